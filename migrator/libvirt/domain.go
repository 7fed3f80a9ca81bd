package libvirt

import (
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// Guest is what a domain is made of.
type Guest struct {
	Spec api.VMSpec
	// Accel is vm.AccelTCG (domain type "qemu") or vm.AccelKVM ("kvm").
	Accel string
	// Kernel and Initrd are the image's files, as the daemon's QEMU sees
	// them.
	Kernel, Initrd string
	// Bridges are the host bridges of the NICs, in Spec.AllNICs order.
	Bridges []string
	// Console is the file the serial console is written to ("" for none).
	Console string
}

func (g Guest) validate() error {
	if err := g.Spec.Validate(); err != nil {
		return fmt.Errorf("guest spec: %w", err)
	}
	if g.Accel != vm.AccelTCG && g.Accel != vm.AccelKVM {
		return fmt.Errorf("accel %q: want %s or %s", g.Accel, vm.AccelTCG, vm.AccelKVM)
	}
	if g.Kernel == "" || g.Initrd == "" {
		return errors.New("kernel and initrd are required")
	}
	if n := len(g.Spec.AllNICs()); len(g.Bridges) != n {
		return fmt.Errorf("%d bridges for %d NICs", len(g.Bridges), n)
	}
	return nil
}

// DomainXML is the domain definition of g, for DomainCreateXML (a
// transient domain) or DomainDefineXML.
func DomainXML(g Guest) ([]byte, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	s := g.Spec
	d := domain{
		Type: "qemu",
		Name: s.Name,
		// The addresses, for the agent's libvirt mode (Record).
		Metadata: &metadata{Guest: newGuestMeta(s)},
		// libvirt 9.0 rounds this up to whole MiB on x86 (-m 257 and a
		// pc.ram backend of 257 MiB for 256 MiB + 8 KiB); under TCG
		// tcgRAMArgs gives QEMU the exact size. The rounded size stays
		// libvirt's view (and its balloon target, at or above the RAM
		// QEMU has: the balloon takes nothing).
		Memory: memory{Unit: "KiB", KiB: vm.MemoryKiB(s.MemoryMiB, g.Accel)},
		// QEMU's default, which libvirt turns off (-no-acpi) unless asked.
		Features: features{ACPI: &struct{}{}},
		// Declared like migrator/vm's -smp: a one-vCPU TCG guest has
		// room for two (maxcpus=2), never plugged.
		VCPU: vcpu{Placement: "static", Current: s.VCPUs, Max: vm.MaxVCPUs(s.VCPUs, g.Accel)},
		OS: osBoot{
			Type:    osType{Arch: "x86_64", Machine: vm.MachineType, Value: "hvm"},
			Kernel:  g.Kernel,
			Initrd:  g.Initrd,
			Cmdline: vm.KernelArgs(s),
		},
		// The guest's panic=-1 reboots; migrator/vm's -no-reboot makes
		// that the end of QEMU, as destroy does here.
		OnPoweroff: "destroy", OnReboot: "destroy", OnCrash: "destroy",
	}
	if g.Accel == vm.AccelKVM {
		d.Type = "kvm"
		d.CPU = cpu{Mode: "host-passthrough"}
	} else {
		// A fixed model, the same on every host, so the guest migrates.
		d.CPU = cpu{Mode: "custom", Match: "exact", Check: "none", Model: &cpuModel{Fallback: "forbid", Name: vm.TCGCPUModel}}
		d.QEMUNS, d.QEMUArgs = qemuNS, qemuArgs(tcgRAMArgs(s.MemoryMiB))
	}
	for i, n := range s.AllNICs() {
		d.Devices.Interfaces = append(d.Devices.Interfaces, iface{
			Type:   "bridge",
			Source: ifaceSource{Bridge: g.Bridges[i]},
			// migratord's tap names, so that the testbed's and the
			// dataplane's conventions hold for libvirt's taps too.
			Target: ifaceTarget{Dev: vm.NICTapName(s.Name, i)},
			MAC:    ifaceMAC{Address: n.MAC},
			Model:  ifaceModel{Type: "virtio"},
			ROM:    ifaceROM{Enabled: "no"},
		})
	}
	if g.Console != "" {
		d.Devices.Serials = []serial{{Type: "file", Source: &serialSource{Path: g.Console}, Target: serialTarget{Port: 0}}}
	}
	// Free page reporting as migrator/vm's balloonArgs: free memory
	// migrates as zero pages.
	d.Devices.Balloon = balloon{Model: "virtio", FreePageReporting: "on"}
	// None of libvirt's default devices that migrator/vm's -nodefaults
	// guest lacks.
	d.Devices.Controllers = []controller{{Type: "usb", Model: "none"}}
	out, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding domain %s: %w", s.Name, err)
	}
	return out, nil
}
