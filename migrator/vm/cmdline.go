package vm

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// TapName is the tap device of the VM named vmName: "nfht" + 8 hex digits
// of FNV-32a(vmName).
func TapName(vmName string) string {
	h := fnv.New32a()
	h.Write([]byte(vmName))
	return fmt.Sprintf("nfht%08x", h.Sum32())
}

// NICTapName is the tap device of NIC nic (its index in
// api.VMSpec.AllNICs) of the VM named vmName: TapName for the first, so
// one-NIC guests and their records keep their tap, and TapName + "n" +
// nic for the others (at most 14 characters with api.MaxNICs NICs).
func NICTapName(vmName string, nic int) string {
	if nic == 0 {
		return TapName(vmName)
	}
	return TapName(vmName) + "n" + strconv.Itoa(nic)
}

// tapFD is the descriptor number QEMU sees NIC nic's tap on: ExtraFiles
// start at 3, one per NIC in order.
func tapFD(nic int) int { return 3 + nic }

// paths are the per-VM files.
type paths struct {
	Dir, QMP, OOB, Console, PID, Stderr string
	WS                                  string // the working-set port's socket (wsArgs)
}

func vmPaths(stateDir, name string) paths {
	dir := filepath.Join(stateDir, "vms", name)
	return paths{
		Dir:     dir,
		QMP:     filepath.Join(dir, "qmp.sock"),
		OOB:     filepath.Join(dir, "oob.sock"), // same length as qmp.sock: Config.Validate
		Console: filepath.Join(dir, "console.log"),
		PID:     filepath.Join(dir, "qemu.pid"),
		Stderr:  filepath.Join(dir, "qemu.stderr"),
		WS:      filepath.Join(dir, "ws.sock"), // shorter than qmp.sock
	}
}

// KernelArgs is the guest kernel command line for spec, for runtimes that
// describe the guest to another launcher (migrator/libvirt's domain XML):
// the same /init reads it either way.
func KernelArgs(spec api.VMSpec) string { return kernelArgs(spec) }

// kernelArgs is the guest kernel command line read by the initramfs /init.
func kernelArgs(spec api.VMSpec) string {
	args := []string{"console=ttyS0", "panic=-1", "nfh.ip=" + spec.Address}
	for i, n := range spec.NICs { // eth1, eth2, ...
		args = append(args, "nfh.ip"+strconv.Itoa(i+1)+"="+n.Address)
	}
	if spec.Gateway != "" {
		args = append(args, "nfh.gw="+spec.Gateway)
	}
	if len(spec.VNFArgs) > 0 {
		args = append(args, "nfh.vnf="+strings.Join(spec.VNFArgs, ","))
	}
	return strings.Join(args, " ")
}

// smpArg is the -smp argument. Under TCG a one-vCPU guest is declared with
// room for two (maxcpus=2): QEMU 7.2 translates the code of a machine with
// max_cpus 1 as if nothing ran beside it, dropping the guest's memory
// barriers (fences elided, locked instructions made plain). But QEMU's main
// loop thread reads the guest's virtio rings concurrently, so the host may
// reorder the guest's store of a ring index before its load of the device's
// event index, and a kick is lost: the transmit queue then stalls for good
// (seen after minutes of overload: NETDEV WATCHDOG in the guest, 238 buffers
// QEMU never looked at, until a stop/cont). QEMU 8.1 fixed it upstream ("tcg:
// Do not elide memory barriers for !CF_PARALLEL in system mode"). With
// max_cpus 2 the code is translated for parallel vCPUs, barriers included;
// the second CPU is never plugged. Both ends of a migration build it alike.
func smpArg(vcpus int, accel string) string {
	if m := MaxVCPUs(vcpus, accel); m != vcpus {
		return strconv.Itoa(vcpus) + ",maxcpus=" + strconv.Itoa(m)
	}
	return strconv.Itoa(vcpus)
}

// cpuModel is the CPU for an accelerator: a fixed model under TCG (same on
// every host, so migration works), the host's under KVM.
func cpuModel(accel string) string {
	if accel == AccelKVM {
		return "host"
	}
	return TCGCPUModel
}

// TCGCPUModel is a TCG guest's CPU model, for runtimes that describe the
// guest to another launcher (migrator/libvirt's domain XML).
const TCGCPUModel = "qemu64"

// tcgRAMPadKiB is added to a TCG guest's RAM. QEMU 7.2 (Debian 12) loses
// dirty pages in migration under TCG: its fast path for syncing a RAM
// block's dirty bitmap (a block whose size is a multiple of 64 pages, 256 KiB)
// clears the bits without resetting the TCG TLB's not-dirty marks, so later
// stores through cached TLB entries (the kernel's, mostly) are never marked
// dirty and the destination runs with stale pages (hrtimer rbtree
// corruption, panic within ms). Fixed upstream in QEMU 9.0 (03bfc2188f,
// "physmem: Fix migration dirty bitmap coherency with TCG memory access"),
// not backported to 7.2. Two more pages make the main RAM block take the
// slow path, which resets the TLB. QEMU takes sizes in 8 KiB steps.
const tcgRAMPadKiB = 8

// memArg is the -m argument: MiB under KVM, KiB with tcgRAMPadKiB added
// under TCG. Both ends of a migration build it the same way.
func memArg(memMiB int, accel string) string {
	if accel == AccelKVM {
		return strconv.Itoa(memMiB)
	}
	return strconv.Itoa(MemoryKiB(memMiB, accel)) + "k"
}

// MemoryKiB is the guest RAM that memArg gives QEMU, in KiB: memMiB, with
// tcgRAMPadKiB added under TCG.
func MemoryKiB(memMiB int, accel string) int {
	if accel == AccelKVM {
		return memMiB * 1024
	}
	return memMiB*1024 + tcgRAMPadKiB
}

// MaxVCPUs is the -smp maxcpus that smpArg declares for vcpus under accel
// (2 for a one-vCPU TCG guest: see smpArg).
func MaxVCPUs(vcpus int, accel string) int {
	if accel == AccelKVM || vcpus > 1 {
		return vcpus
	}
	return 2
}

// guestName is the -name argument; Adopt looks for it in /proc/<pid>/cmdline.
func guestName(name string) string { return "guest=" + name + ",debug-threads=on" }

// qmpArg is the -qmp argument; Adopt looks for it too.
func qmpArg(sock string) string { return "unix:" + sock + ",server=on,wait=off" }

// wsArgs give the guest a virtio-serial port for its working-set reports
// (wsreport.PortName), on a unix socket the agent reads. QEMU is the
// server, without waiting: the socket lives exactly as long as the guest,
// on both ends of a migration, and an agent (a restarted one too)
// connects and reconnects at will; while none is connected the port is
// closed in the guest and its reports go nowhere. The devices come after
// the NICs, which keep their PCI slots; both ends of a migration build
// them alike, as device state migrates.
func wsArgs(sock string) []string {
	return []string{
		"-device", "virtio-serial-pci,id=vser0",
		"-chardev", "socket,id=ws0,path=" + sock + ",server=on,wait=off",
		"-device", "virtserialport,bus=vser0.0,chardev=ws0,name=" + wsreport.PortName,
	}
}

// balloonArgs give the guest a virtio-balloon used only for free page
// reporting: the guest's kernel (virtio_balloon loaded at boot) reports
// free 2 MiB blocks, QEMU discards them, and a migration then sends them
// as ZERO records, not their stale content: free memory travels as zero
// pages, on the guest's word and by QEMU, which knows where its dirty
// syncs fall (never by the agent rewriting pages). No target is ever set:
// the balloon stays empty. QEMU ignores reports while an incoming
// post-copy runs. Both ends of a migration build it alike.
func balloonArgs() []string {
	return []string{"-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"}
}

// qemuArgs is QEMU's command line (without argv[0]) for spec. An incoming
// guest waits for migrate-incoming and stays paused afterwards.
func qemuArgs(spec api.VMSpec, accel, kernel, initrd string, p paths, incoming bool) []string {
	args := []string{
		"-name", guestName(spec.Name),
		"-machine", MachineType,
		"-accel", accel,
		"-cpu", cpuModel(accel),
		"-m", memArg(spec.MemoryMiB, accel),
		"-smp", smpArg(spec.VCPUs, accel),
		"-nodefaults", "-no-user-config",
		"-display", "none", "-vga", "none",
		"-kernel", kernel,
		"-initrd", initrd,
		"-append", kernelArgs(spec),
		"-chardev", "file,id=con0,path=" + p.Console,
		"-serial", "chardev:con0",
	}
	// One PCI device per NIC in order: the guest names them eth0, eth1, ...
	for i, n := range spec.AllNICs() {
		id := "net" + strconv.Itoa(i)
		args = append(args,
			"-netdev", "tap,id="+id+",fd="+strconv.Itoa(tapFD(i)),
			"-device", "virtio-net-pci,netdev="+id+",mac="+n.MAC+",romfile=")
	}
	args = append(args, wsArgs(p.WS)...)
	args = append(args, balloonArgs()...)
	args = append(args,
		"-qmp", qmpArg(p.QMP),
		// A second QMP socket for out-of-band commands (qmpx.OOB): a
		// paused post-copy's migrate-recover must not wait for a main
		// thread blocked on a page that has not arrived.
		"-qmp", qmpArg(p.OOB),
		"-pidfile", p.PID,
		"-sandbox", "on",
		"-no-reboot",
		"-msg", "timestamp=on",
	)
	if incoming {
		args = append(args, "-incoming", "defer", "-S")
	}
	return args
}
