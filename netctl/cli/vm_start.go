package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

// startRequestTimeout is the least time netctl waits for a start request:
// longer than the agent's own two-minute limit on a start.
const startRequestTimeout = 150 * time.Second

const vnfArgsHint = `vnf arguments go after "--", e.g. netctl vm start fw1 --ip 198.18.0.100/24 -- --wss 64`

func newVMStartCmd(g *globals) *cobra.Command {
	var spec api.VMSpec
	var nics []string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "start NAME --ip ADDR/PREFIX [--nic MAC,ADDR/PREFIX[,NETWORK]...] [flags] [-- VNF-ARGS...]",
		Short: "Start a VNF guest and wait until its vnf answers",
		Long: `Start a guest named NAME on the agent chosen with --host: a QEMU VM that
boots the image (default "vnf", built by "make image") and runs the vnf, a
TWAMP-light reflector, UDP echo and memory workload, on address --ip.

NAME is 1-32 characters of [a-z0-9-] starting with a letter. Guests on the
testbed use 198.18.0.100-198.18.0.199 in 198.18.0.0/24, gateway 198.18.0.1.
Without --mac the MAC is derived from NAME (52:54:00 and three bytes of a
hash of the name), so the same name always gets the same MAC.

A guest may have several NICs (at most 8): --ip and --mac make the first,
on the agent's default network, and each --nic MAC,ADDR/PREFIX[,NETWORK]
adds one, in order (the guest sees them as eth0, eth1, ...). Without --ip
the first --nic is the first NIC. NETWORK names one of the agent's host
networks (migratord --network NAME=BRIDGE); without it the NIC joins the
default network. An empty MAC (",ADDR/PREFIX") is derived from NAME and
the NIC's index. The gateway may lie in any NIC's network.

Arguments after "--" go to the vnf inside the guest, e.g. "--wss 64" (MiB of
memory the workload keeps verified) and "--dirty-rate 2" (MiB/s it
rewrites); they may hold only [A-Za-z0-9_.=:/+-].

netctl then waits (up to --wait, 120s by default; 0 does not wait) until the
vnf answers its status query, showing progress on a terminal. If it does
not, netctl prints the guest's console log path and exits 1, leaving the VM
running so you can look; "netctl vm stop NAME" removes it.

With -o json it prints the VM status (record plus QEMU and vnf status) once
the vnf answers, or with --wait 0 the VM record as the agent returned it.`,
		Example: `  netctl --host hostA vm start fw1 --ip 198.18.0.100/24 --gw 198.18.0.1 -- --wss 64
  netctl --host hostA vm start fw2 --ip 198.18.0.101/24 --mem 512 -- --wss 128 --dirty-rate 2
  netctl --host hostB vm start nat1 --ip 198.18.0.102/24 --wait 0 -o json
  netctl --host hostA vm start fw3 --ip 198.18.0.103/24 --nic 52:54:00:00:01:03,198.19.0.103/24,core
  netctl --host hostA vm start fw4 --nic ,198.18.0.104/24 --nic ,198.19.0.104/24,core --gw 198.19.0.1`,
		Args: startArgs,
		RunE: action(func(cmd *cobra.Command, args []string) error {
			spec.Name = args[0]
			spec.VNFArgs = args[1:]
			return runVMStart(cmd.Context(), g, spec, nics, wait)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&spec.Address, "ip", "", "first NIC's IPv4 address with prefix, e.g. 198.18.0.100/24 (required unless --nic)")
	f.StringVar(&spec.Gateway, "gw", "", "guest default gateway, e.g. 198.18.0.1")
	f.StringVar(&spec.MAC, "mac", "", "first NIC's MAC address (default: derived from NAME, 52:54:00:xx:xx:xx)")
	f.StringArrayVar(&nics, "nic", nil, "another NIC, `MAC,ADDR/PREFIX[,NETWORK]` (the first one without --ip; an empty MAC is derived); repeat for more")
	f.IntVar(&spec.MemoryMiB, "mem", 256, "guest memory in MiB")
	f.IntVar(&spec.VCPUs, "vcpus", 1, "number of virtual CPUs")
	f.StringVar(&spec.Image, "image", "vnf", "image directory under the agent's --image-dir")
	f.DurationVar(&wait, "wait", 120*time.Second, "how long to wait for the vnf to answer (0: do not wait)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		if strings.HasPrefix(err.Error(), "unknown") {
			err = withHint(err, "%s", vnfArgsHint)
		}
		return &ExitError{Code: ExitUsage, Err: err}
	})
	return cmd
}

// startArgs accepts "NAME [-- VNF-ARGS...]".
func startArgs(cmd *cobra.Command, args []string) error {
	n := len(args)
	if d := cmd.ArgsLenAtDash(); d >= 0 {
		n = d
	}
	switch {
	case n == 0:
		return errors.New(`missing the VM name: netctl vm start NAME --ip ADDR/PREFIX [-- VNF-ARGS...]`)
	case n > 1:
		return withHint(fmt.Errorf("unexpected argument %q after the VM name", args[1]), "%s", vnfArgsHint)
	}
	return nil
}

func runVMStart(ctx context.Context, g *globals, spec api.VMSpec, nics []string, wait time.Duration) error {
	derived, err := setNICs(&spec, nics)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if wait < 0 {
		return usageErrorf("--wait %v: want a duration >= 0", wait)
	}
	t, err := g.target()
	if err != nil {
		return err
	}
	// A start may include the agent's one-time acceleration probe and a QEMU
	// launch; the agent bounds it at two minutes, so never give up before it
	// does (that would report a failure for a guest that then runs).
	sg := *g
	sg.timeout = max(g.timeout, startRequestTimeout)
	vm, err := call(ctx, &sg, t, func(ctx context.Context) (api.VM, error) {
		return t.client.StartVM(ctx, spec)
	})
	if err != nil {
		return fmt.Errorf("starting %s on %s: %w", spec.Name, t.name, err)
	}
	macNote := func(i int) string {
		if derived[i] {
			return " (derived from the name)"
		}
		return ""
	}
	g.infof("%s: %s on %s, accel %s, pid %d", vm.Spec.Name, vm.State, or(vm.Host, t.name), or(vm.Accel, "-"), vm.PID)
	if oneDefaultNIC(vm.Spec) {
		g.infof("  address %s, gateway %s, mac %s%s", vm.Spec.Address, or(vm.Spec.Gateway, "none"), vm.Spec.MAC, macNote(0))
	} else {
		taps := vm.AllTaps()
		for i, n := range vm.Spec.AllNICs() {
			tap := "-"
			if i < len(taps) && taps[i] != "" {
				tap = taps[i]
			}
			g.infof("  nic %d: address %s, mac %s%s, network %s, tap %s", i, n.Address, n.MAC, macNote(i), network(n), tap)
		}
		g.infof("  gateway %s", or(vm.Spec.Gateway, "none"))
	}
	g.infof("  console log: %s", or(vm.ConsoleLog, "-"))
	if wait == 0 {
		if g.jsonOut() {
			return g.printJSON(vm)
		}
		return nil
	}
	st, err := waitGuest(ctx, g, t, vm, wait)
	if err != nil {
		return err
	}
	if g.jsonOut() {
		return g.printJSON(st)
	}
	g.infof("%s: vnf answering (boot id %s, guest uptime %s)", vm.Spec.Name, st.Guest.BootID, fmtDuration(st.Guest.Uptime))
	return nil
}
