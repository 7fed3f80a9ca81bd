package libvirt

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

func testGuest() Guest {
	s := api.VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1",
		NICs: []api.NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100/24", Network: "core"}}}
	s.Defaults()
	return Guest{Spec: s, Accel: vm.AccelTCG, Kernel: "/img/vmlinuz", Initrd: "/img/initrd.img",
		Bridges: []string{"nfh-br", "nfh-cbr"}, Console: "/run/x/console.log"}
}

// TestDomainXMLMirrorsQEMU checks that the domain asks for the QEMU that
// migrator/vm launches for the same spec.
func TestDomainXMLMirrorsQEMU(t *testing.T) {
	g := testGuest()
	out, err := DomainXML(g)
	if err != nil {
		t.Fatal(err)
	}
	var d domain
	if err := xml.Unmarshal(out, &d); err != nil {
		t.Fatalf("reading back: %v\n%s", err, out)
	}
	if d.Type != "qemu" || d.OS.Type.Machine != vm.MachineType || d.CPU.Model == nil || d.CPU.Model.Name != "qemu64" {
		t.Errorf("type %q machine %q cpu %+v: want qemu, %s, qemu64", d.Type, d.OS.Type.Machine, d.CPU, vm.MachineType)
	}
	if d.Memory.Unit != "KiB" || d.Memory.KiB != 256*1024+8 {
		t.Errorf("memory %d %s: want 256 MiB and the TCG pad in KiB", d.Memory.KiB, d.Memory.Unit)
	}
	if d.Features.ACPI == nil {
		t.Error("no ACPI: libvirt would pass -no-acpi")
	}
	if d.VCPU.Current != 1 || d.VCPU.Max != 2 {
		t.Errorf("vcpus %d of %d: want 1 of 2 (maxcpus=2 under TCG)", d.VCPU.Current, d.VCPU.Max)
	}
	if want := vm.KernelArgs(g.Spec); d.OS.Cmdline != want || !strings.Contains(want, "nfh.ip1=198.19.0.100/24") {
		t.Errorf("cmdline %q, want %q", d.OS.Cmdline, want)
	}
	if len(d.Devices.Interfaces) != 2 {
		t.Fatalf("%d interfaces, want 2", len(d.Devices.Interfaces))
	}
	for i, want := range []struct{ mac, br string }{{"52:54:00:12:34:56", "nfh-br"}, {"52:54:00:12:34:57", "nfh-cbr"}} {
		n := d.Devices.Interfaces[i]
		if n.MAC.Address != want.mac || n.Source.Bridge != want.br || n.Model.Type != "virtio" || n.Target.Dev != vm.NICTapName("fw1", i) {
			t.Errorf("interface %d: %+v, want %s on %s, virtio, tap %s", i, n, want.mac, want.br, vm.NICTapName("fw1", i))
		}
	}
}

func TestDomainXMLRefuses(t *testing.T) {
	for name, edit := range map[string]func(*Guest){
		"bad spec":         func(g *Guest) { g.Spec.Name = "Bad Name" },
		"unknown accel":    func(g *Guest) { g.Accel = "hvf" },
		"no kernel":        func(g *Guest) { g.Kernel = "" },
		"bridge per NIC":   func(g *Guest) { g.Bridges = g.Bridges[:1] },
		"too many bridges": func(g *Guest) { g.Bridges = append(g.Bridges, "x") },
	} {
		g := testGuest()
		edit(&g)
		if _, err := DomainXML(g); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDomainXMLPadsTCGRAM checks that a TCG domain carries the QEMU
// arguments that give its RAM migrator/vm's pad, in libvirt's qemu
// namespace, and a KVM domain none.
func TestDomainXMLPadsTCGRAM(t *testing.T) {
	g := testGuest()
	out, err := DomainXML(g)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `xmlns:qemu="`+qemuNS+`"`) {
		t.Errorf("no qemu namespace declared:\n%s", out)
	}
	var c struct {
		Args []struct {
			Value string `xml:"value,attr"`
		} `xml:"http://libvirt.org/schemas/domain/qemu/1.0 commandline>arg"`
	}
	if err := xml.Unmarshal(out, &c); err != nil {
		t.Fatalf("reading back: %v\n%s", err, out)
	}
	var args []string
	for _, a := range c.Args {
		args = append(args, a.Value)
	}
	want := []string{"-machine", "memory-backend=nfh.ram", "-object", "memory-backend-ram,id=nfh.ram,size=262152k", "-m", "262152k"}
	if strings.Join(args, " ") != strings.Join(want, " ") {
		t.Errorf("qemu:commandline %q, want %q", args, want)
	}

	g.Accel = vm.AccelKVM
	out, err = DomainXML(g)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "qemu:") {
		t.Errorf("a KVM domain with QEMU arguments:\n%s", out)
	}
}

// TestRecordReadsDomainXML reads a domain as libvirt 9.0 shows a running
// one (its own elements around what DomainXML wrote) as the agent's record.
func TestRecordReadsDomainXML(t *testing.T) {
	g := testGuest()
	out, err := DomainXML(g)
	if err != nil {
		t.Fatal(err)
	}
	// What libvirt adds to a running domain: an id, aliases, addresses.
	live := strings.Replace(string(out), `<domain type="qemu"`, `<domain type="qemu" id="7"`, 1)
	live = strings.Replace(live, `<rom enabled="no">`, `<alias name="net0"/><address type="pci" domain="0x0000" bus="0x00" slot="0x03" function="0x0"/><rom enabled="no">`, 1)
	rec, err := Record(live)
	if err != nil {
		t.Fatal(err)
	}
	s := g.Spec
	if rec.Spec.Name != "fw1" || rec.Source != api.SourceLibvirt || rec.Accel != vm.AccelTCG || rec.Spec.MemoryMiB != 256 || rec.Spec.VCPUs != 1 {
		t.Errorf("record %+v: want fw1 from libvirt, tcg, 256 MiB, 1 vCPU", rec)
	}
	if rec.Spec.MAC != s.MAC || rec.Spec.Address != s.Address || len(rec.Spec.NICs) != 1 ||
		rec.Spec.NICs[0] != s.NICs[0] {
		t.Errorf("NICs %+v, want %+v", rec.Spec.AllNICs(), s.AllNICs())
	}
	if want := []string{vm.NICTapName("fw1", 0), vm.NICTapName("fw1", 1)}; strings.Join(rec.AllTaps(), ",") != strings.Join(want, ",") {
		t.Errorf("taps %v, want %v", rec.AllTaps(), want)
	}
}

// TestRecordWithoutMetadata: a domain nfhandoff did not define (no
// metadata of ours, another namespace's element named guest) gives its
// MACs and taps, no addresses.
func TestRecordWithoutMetadata(t *testing.T) {
	rec, err := Record(`<domain type='kvm' id='3'><name>instance-0000002a</name>
<memory unit='KiB'>1048576</memory><vcpu placement='static'>2</vcpu>
<metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:name>fw</nova:name></nova:instance>
<x:guest xmlns:x="urn:other"><x:nic mac="fa:16:3e:00:00:01" address="10.0.0.1/24"/></x:guest></metadata>
<devices><interface type='ethernet'><mac address='fa:16:3e:00:00:01'/><target dev='tap1234'/><model type='virtio'/></interface></devices></domain>`)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Spec.Name != "instance-0000002a" || rec.Accel != vm.AccelKVM || rec.Spec.MemoryMiB != 1024 || rec.Spec.VCPUs != 2 ||
		rec.Spec.MAC != "fa:16:3e:00:00:01" || rec.Spec.Address != "" || rec.Tap != "tap1234" || rec.Taps != nil || rec.Spec.NICs != nil {
		t.Errorf("record %+v", rec)
	}
	if _, err := Record("<domain><devices/></domain>"); err == nil {
		t.Error("a domain without a name: no error")
	}
}
