package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// parseNIC parses a --nic value, MAC,ADDR[,NETWORK]; an empty MAC is
// left empty (derived later).
func parseNIC(s string) (api.NIC, error) {
	f := strings.Split(s, ",")
	if len(f) < 2 || len(f) > 3 || f[1] == "" {
		return api.NIC{}, fmt.Errorf("--nic %q: want MAC,ADDR/PREFIX[,NETWORK], e.g. 52:54:00:00:01:01,198.19.0.100/24,core", s)
	}
	n := api.NIC{MAC: f[0], Address: f[1]}
	if len(f) == 3 {
		n.Network = f[2]
	}
	return n, nil
}

// nicMAC is the MAC netctl gives NIC i of VM name when none is set:
// DeriveMAC of the name for the first, of "NAME/i" for the others.
func nicMAC(name string, i int) string {
	if i == 0 {
		return DeriveMAC(name)
	}
	return DeriveMAC(name + "/" + strconv.Itoa(i))
}

// setNICs puts the --nic values into spec, whose first NIC is --mac and
// --ip if --ip was given; otherwise the first --nic is the first NIC. MACs
// left empty are derived; derived reports which NICs' were.
func setNICs(spec *api.VMSpec, nics []string) (derived map[int]bool, err error) {
	var parsed []api.NIC
	for _, s := range nics {
		n, err := parseNIC(s)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, n)
	}
	if spec.Address == "" {
		if len(parsed) == 0 {
			return nil, fmt.Errorf("no address: give --ip ADDR/PREFIX or --nic MAC,ADDR/PREFIX[,NETWORK]")
		}
		if spec.MAC != "" {
			return nil, fmt.Errorf("--mac goes with --ip; without --ip the first --nic carries the first NIC's MAC")
		}
		spec.MAC, spec.Address, spec.Network = parsed[0].MAC, parsed[0].Address, parsed[0].Network
		parsed = parsed[1:]
	}
	spec.NICs = parsed
	derived = map[int]bool{}
	if spec.MAC == "" {
		spec.MAC, derived[0] = nicMAC(spec.Name, 0), true
	}
	for i := range spec.NICs {
		if spec.NICs[i].MAC == "" {
			spec.NICs[i].MAC, derived[i+1] = nicMAC(spec.Name, i+1), true
		}
	}
	return derived, nil
}

// network names a NIC's host network for people: "default" for "".
func network(n api.NIC) string { return or(n.Network, "default") }

// oneDefaultNIC reports whether a spec has the one NIC, on the default
// network, that netctl's output has always shown.
func oneDefaultNIC(s api.VMSpec) bool { return len(s.NICs) == 0 && s.Network == "" }
