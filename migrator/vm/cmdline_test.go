package vm

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestTapName(t *testing.T) {
	for _, tc := range []struct{ vm, tap string }{
		{"vm1", "nfht511c93a7"},
		{"a", "nfhte40c292c"},
	} {
		if got := TapName(tc.vm); got != tc.tap {
			t.Errorf("TapName(%q) = %q, want %q", tc.vm, got, tc.tap)
		}
	}
	long := TapName(strings.Repeat("z", 32))
	if len(long) > 15 || !strings.HasPrefix(long, "nfht") {
		t.Errorf("TapName of a 32-char name = %q: want nfht + 8 hex (<= 15 bytes)", long)
	}
}

// NIC 0's tap is TapName (existing guests and records keep theirs); the
// others' are distinct, deterministic and fit a device name.
func TestNICTapName(t *testing.T) {
	if got := NICTapName("vm1", 0); got != "nfht511c93a7" {
		t.Errorf("NIC 0's tap %q, want TapName's", got)
	}
	if got := NICTapName("vm1", 1); got != "nfht511c93a7n1" {
		t.Errorf("NIC 1's tap %q", got)
	}
	seen := map[string]bool{}
	for _, vm := range []string{"vm1", strings.Repeat("z", 32)} {
		for i := range api.MaxNICs {
			n := NICTapName(vm, i)
			if len(n) > 15 || seen[n] || n != NICTapName(vm, i) {
				t.Errorf("NICTapName(%q, %d) = %q: want <= 15 bytes, distinct, stable", vm, i, n)
			}
			seen[n] = true
		}
	}
}

func TestKernelArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec api.VMSpec
		want string
	}{
		{"full", api.VMSpec{Address: "198.18.0.100/24", Gateway: "198.18.0.1", VNFArgs: []string{"--wss", "64", "--dirty-rate", "2"}},
			"console=ttyS0 panic=-1 nfh.ip=198.18.0.100/24 nfh.gw=198.18.0.1 nfh.vnf=--wss,64,--dirty-rate,2"},
		{"no gateway, no args", api.VMSpec{Address: "198.18.0.101/24"},
			"console=ttyS0 panic=-1 nfh.ip=198.18.0.101/24"},
		{"args only", api.VMSpec{Address: "198.18.0.102/24", VNFArgs: []string{"--wss", "8"}},
			"console=ttyS0 panic=-1 nfh.ip=198.18.0.102/24 nfh.vnf=--wss,8"},
		{"three nics", api.VMSpec{Address: "198.18.0.100/24", Gateway: "198.19.0.1", VNFArgs: []string{"--wss", "8"},
			NICs: []api.NIC{{Address: "198.19.0.100/24", Network: "core"}, {Address: "10.0.0.5/8"}}},
			"console=ttyS0 panic=-1 nfh.ip=198.18.0.100/24 nfh.ip1=198.19.0.100/24 nfh.ip2=10.0.0.5/8 nfh.gw=198.19.0.1 nfh.vnf=--wss,8"},
	} {
		if got := kernelArgs(tc.spec); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// argAfter returns the argument following flag (the first occurrence).
func argAfter(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

func TestQEMUArgs(t *testing.T) {
	spec := api.VMSpec{Name: "vnf1", MemoryMiB: 512, VCPUs: 2, MAC: "52:54:00:00:00:01",
		Address: "198.18.0.100/24", Gateway: "198.18.0.1", VNFArgs: []string{"--wss", "64"}}
	p := vmPaths("/st", "vnf1")
	for _, tc := range []struct {
		accel string
		want  map[string]string
	}{
		{AccelTCG, map[string]string{
			"-name": "guest=vnf1,debug-threads=on", "-machine": "pc-i440fx-7.2",
			"-accel": "tcg", "-cpu": "qemu64", "-m": "524296k", "-smp": "2",
			"-kernel": "/img/vmlinuz", "-initrd": "/img/initrd.img",
			"-append":  "console=ttyS0 panic=-1 nfh.ip=198.18.0.100/24 nfh.gw=198.18.0.1 nfh.vnf=--wss,64",
			"-chardev": "file,id=con0,path=/st/vms/vnf1/console.log", "-serial": "chardev:con0",
			"-netdev": "tap,id=net0,fd=3", "-device": "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile=",
			"-qmp": "unix:/st/vms/vnf1/qmp.sock,server=on,wait=off", "-pidfile": "/st/vms/vnf1/qemu.pid",
			"-sandbox": "on", "-display": "none", "-vga": "none",
		}},
		{AccelKVM, map[string]string{"-accel": "kvm", "-cpu": "host", "-m": "512", "-smp": "2"}},
	} {
		args := qemuArgs(spec, tc.accel, "/img/vmlinuz", "/img/initrd.img", p, false)
		for flag, want := range tc.want {
			if got := argAfter(args, flag); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.accel, flag, got, want)
			}
		}
		for _, flag := range []string{"-nodefaults", "-no-user-config", "-no-reboot"} {
			if !slices.Contains(args, flag) {
				t.Errorf("%s: missing %s", tc.accel, flag)
			}
		}
		if slices.Contains(args, "-daemonize") || slices.Contains(args, "-S") {
			t.Errorf("%s: unexpected flags in %q", tc.accel, args)
		}
	}
}

// Under TCG the guest RAM must not be a multiple of 256 KiB (QEMU 7.2's
// dirty-bitmap fast path loses pages, see tcgRAMPadKiB) and may exceed the
// spec by a few pages only; under KVM it is the spec's size.
func TestMemArg(t *testing.T) {
	for _, mib := range []int{64, 256, 1024, 4096} {
		arg := memArg(mib, AccelTCG)
		kib, err := strconv.Atoi(strings.TrimSuffix(arg, "k"))
		if !strings.HasSuffix(arg, "k") || err != nil {
			t.Fatalf("memArg(%d, tcg) = %q: want KiB with a k suffix", mib, arg)
		}
		if kib%256 == 0 || kib%8 != 0 || kib <= mib*1024 || kib > mib*1024+64 {
			t.Errorf("memArg(%d, tcg) = %q: want a few pages more, a multiple of 8 KiB, not of 256 KiB", mib, arg)
		}
		if got := memArg(mib, AccelKVM); got != strconv.Itoa(mib) {
			t.Errorf("memArg(%d, kvm) = %q, want %d", mib, got, mib)
		}
	}
}

// Each NIC gets a netdev on fd 3+i and a virtio-net device with its MAC,
// in NIC order; a one-NIC guest's line is as it was.
func TestQEMUArgsNICs(t *testing.T) {
	spec := api.VMSpec{Name: "vnf1", MemoryMiB: 256, VCPUs: 1, MAC: "52:54:00:00:00:01", Address: "198.18.0.100/24",
		NICs: []api.NIC{{MAC: "52:54:00:00:00:02", Address: "198.19.0.100/24", Network: "core"},
			{MAC: "52:54:00:00:00:03", Address: "198.20.0.100/24"}}}
	args := qemuArgs(spec, AccelTCG, "/k", "/i", vmPaths("/st", "vnf1"), false)
	var nets []string
	for i, a := range args {
		if a == "-netdev" || a == "-device" && strings.HasPrefix(args[i+1], "virtio-net-pci") {
			nets = append(nets, args[i+1])
		}
	}
	want := []string{
		"tap,id=net0,fd=3", "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile=",
		"tap,id=net1,fd=4", "virtio-net-pci,netdev=net1,mac=52:54:00:00:00:02,romfile=",
		"tap,id=net2,fd=5", "virtio-net-pci,netdev=net2,mac=52:54:00:00:00:03,romfile=",
	}
	if !slices.Equal(nets, want) {
		t.Errorf("netdevs and devices %q\nwant %q", nets, want)
	}
	one := spec
	one.NICs = nil
	const wantOne = "-name guest=vnf1,debug-threads=on -machine pc-i440fx-7.2 -accel tcg -cpu qemu64 -m 262152k " +
		"-smp 1,maxcpus=2 -nodefaults -no-user-config -display none -vga none -kernel /k -initrd /i " +
		"-append console=ttyS0 panic=-1 nfh.ip=198.18.0.100/24 -chardev file,id=con0,path=/st/vms/vnf1/console.log " +
		"-serial chardev:con0 -netdev tap,id=net0,fd=3 -device virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,romfile= " +
		"-device virtio-serial-pci,id=vser0 -chardev socket,id=ws0,path=/st/vms/vnf1/ws.sock,server=on,wait=off " +
		"-device virtserialport,bus=vser0.0,chardev=ws0,name=org.nfhandoff.ws.0 " +
		"-device virtio-balloon-pci,id=balloon0,free-page-reporting=on " +
		"-qmp unix:/st/vms/vnf1/qmp.sock,server=on,wait=off -qmp unix:/st/vms/vnf1/oob.sock,server=on,wait=off " +
		"-pidfile /st/vms/vnf1/qemu.pid -sandbox on -no-reboot -msg timestamp=on"
	if got := strings.Join(qemuArgs(one, AccelTCG, "/k", "/i", vmPaths("/st", "vnf1"), false), " "); got != wantOne {
		t.Errorf("one-nic command line\n%s\nwant\n%s", got, wantOne)
	}
}

func TestQEMUArgsIncoming(t *testing.T) {
	spec := api.VMSpec{Name: "vnf1", MemoryMiB: 256, VCPUs: 1, MAC: "52:54:00:00:00:01", Address: "198.18.0.100/24"}
	args := qemuArgs(spec, AccelTCG, "/k", "/i", vmPaths("/st", "vnf1"), true)
	if argAfter(args, "-incoming") != "defer" || !slices.Contains(args, "-S") {
		t.Errorf("incoming args %q: want -incoming defer -S", args)
	}
	plain := qemuArgs(spec, AccelTCG, "/k", "/i", vmPaths("/st", "vnf1"), false)
	if !slices.Equal(args[:len(plain)], plain) {
		t.Errorf("incoming args differ from plain ones beyond the additions")
	}
}

func TestVMPaths(t *testing.T) {
	p := vmPaths("/var/lib/nfh/hostA", "vm1")
	want := paths{"/var/lib/nfh/hostA/vms/vm1", "/var/lib/nfh/hostA/vms/vm1/qmp.sock", "/var/lib/nfh/hostA/vms/vm1/oob.sock",
		"/var/lib/nfh/hostA/vms/vm1/console.log", "/var/lib/nfh/hostA/vms/vm1/qemu.pid",
		"/var/lib/nfh/hostA/vms/vm1/qemu.stderr", "/var/lib/nfh/hostA/vms/vm1/ws.sock"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
}

// A one-vCPU TCG guest is translated for parallel vCPUs (see smpArg); KVM
// guests and guests with several vCPUs get what they asked for.
func TestSmpArg(t *testing.T) {
	for _, c := range []struct {
		vcpus int
		accel string
		want  string
	}{
		{1, AccelTCG, "1,maxcpus=2"},
		{2, AccelTCG, "2"},
		{1, AccelKVM, "1"},
		{4, AccelKVM, "4"},
	} {
		if got := smpArg(c.vcpus, c.accel); got != c.want {
			t.Errorf("smpArg(%d, %s) = %q, want %q", c.vcpus, c.accel, got, c.want)
		}
	}
}
