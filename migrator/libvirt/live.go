package libvirt

import (
	"encoding/xml"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// metaNS is the namespace of nfhandoff's element in a domain's <metadata>:
// the guest's addresses by MAC, which libvirt does not know. DomainXML
// writes it; an operator may add it to a domain of their own. The agent
// only reads it.
const metaNS = "urn:nfhandoff:guest:1"

// guestMeta is <nfh:guest xmlns:nfh="urn:nfhandoff:guest:1">, written.
type guestMeta struct {
	XMLName xml.Name  `xml:"nfh:guest"`
	NS      string    `xml:"xmlns:nfh,attr"`
	NICs    []metaNIC `xml:"nfh:nic"`
}

type metaNIC struct {
	MAC     string `xml:"mac,attr"`
	Address string `xml:"address,attr,omitempty"`
	Network string `xml:"network,attr,omitempty"`
}

func newGuestMeta(s api.VMSpec) *guestMeta {
	m := &guestMeta{NS: metaNS}
	for _, n := range s.AllNICs() {
		m.NICs = append(m.NICs, metaNIC{MAC: n.MAC, Address: n.Address, Network: n.Network})
	}
	return m
}

// liveDomain is what a running domain's XML (DomainGetXMLDesc) tells the
// agent.
type liveDomain struct {
	Type   string `xml:"type,attr"`
	Name   string `xml:"name"`
	Memory struct {
		Unit  string `xml:"unit,attr"`
		Value int64  `xml:",chardata"`
	} `xml:"memory"`
	VCPU struct {
		Current int `xml:"current,attr"`
		Max     int `xml:",chardata"`
	} `xml:"vcpu"`
	Interfaces []struct {
		MAC    ifaceMAC    `xml:"mac"`
		Target ifaceTarget `xml:"target"`
	} `xml:"devices>interface"`
	Meta struct {
		NICs []metaNIC `xml:"urn:nfhandoff:guest:1 guest>nic"`
	} `xml:"metadata"`
}

// Record reads a running domain's XML as the agent's record of a guest
// it did not start (api.VM.Source libvirt): name, memory, vCPUs, each
// interface's MAC and tap (target dev) in order, the addresses nfhandoff's
// metadata gives, and the accelerator (domain type kvm or qemu).
func Record(domainXML string) (api.VM, error) {
	var d liveDomain
	if err := xml.Unmarshal([]byte(domainXML), &d); err != nil {
		return api.VM{}, fmt.Errorf("reading domain xml: %w", err)
	}
	if d.Name == "" {
		return api.VM{}, fmt.Errorf("reading domain xml: no name")
	}
	rec := api.VM{Spec: api.VMSpec{Name: d.Name, MemoryMiB: int(d.Memory.Value >> 10), VCPUs: d.VCPU.Max},
		Accel: vm.AccelTCG, Source: api.SourceLibvirt}
	if d.Memory.Unit != "" && d.Memory.Unit != "KiB" {
		rec.Spec.MemoryMiB = 0 // libvirt writes KiB; anything else is not guessed at
	}
	if d.VCPU.Current > 0 {
		rec.Spec.VCPUs = d.VCPU.Current
	}
	if d.Type == "kvm" {
		rec.Accel = vm.AccelKVM
	}
	meta := map[string]metaNIC{}
	for _, n := range d.Meta.NICs {
		meta[n.MAC] = n
	}
	var nics []api.NIC
	var taps []string
	for _, i := range d.Interfaces {
		m := meta[i.MAC.Address]
		nics = append(nics, api.NIC{MAC: i.MAC.Address, Address: m.Address, Network: m.Network})
		taps = append(taps, i.Target.Dev)
	}
	if len(nics) > 0 {
		rec.Spec.MAC, rec.Spec.Address, rec.Spec.Network, rec.Spec.NICs = nics[0].MAC, nics[0].Address, nics[0].Network, nics[1:]
		rec.Tap, rec.Taps = taps[0], taps[1:]
	}
	if len(rec.Spec.NICs) == 0 {
		rec.Spec.NICs = nil
	}
	if len(rec.Taps) == 0 {
		rec.Taps = nil
	}
	return rec, nil
}
