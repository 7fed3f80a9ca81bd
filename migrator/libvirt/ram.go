package libvirt

import (
	"strconv"

	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// qemuNS is libvirt's QEMU namespace for domain XML: raw QEMU arguments
// (<qemu:commandline>) that libvirt appends to the command line it builds.
const qemuNS = "http://libvirt.org/schemas/domain/qemu/1.0"

// RAMBackendID names the memory backend that holds a TCG domain's main RAM
// (its RAM block in QEMU's migration stream) in place of libvirt's pc.ram.
const RAMBackendID = "nfh.ram"

// tcgRAMArgs are the QEMU arguments that give a TCG domain migrator/vm's
// padded RAM (vm.MemoryKiB, 8 KiB over whole MiB: QEMU 7.2 loses dirty
// pages under TCG in a RAM block whose size is a multiple of 256 KiB, see
// migrator/vm). libvirt 9.0 rounds <memory> up to whole MiB and passes it
// twice: as -m and as the size of the machine's memory backend (-object
// memory-backend-ram,id=pc.ram plus -machine memory-backend=pc.ram). QEMU
// 7.2 merges repeated -machine keys and -m options with the last one
// winning, and requires only the backend the machine uses to match -m. So
// these three, appended after libvirt's own, point the machine at a
// backend of the padded size: libvirt's pc.ram object is still created but
// left unused (never touched, never migrated: only the RAM blocks a device
// or the machine registers migrate). <qemu:commandline> is part of the
// domain XML, so a migration's destination builds the same QEMU.
func tcgRAMArgs(memMiB int) []string {
	kib := strconv.Itoa(vm.MemoryKiB(memMiB, vm.AccelTCG)) + "k"
	return []string{
		"-machine", "memory-backend=" + RAMBackendID,
		"-object", "memory-backend-ram,id=" + RAMBackendID + ",size=" + kib,
		"-m", kib,
	}
}

// qemuCommandline is <qemu:commandline>, in the qemu namespace (declared
// as xmlns:qemu on the domain).
type qemuCommandline struct {
	Args []qemuArg `xml:"qemu:arg"`
}

type qemuArg struct {
	Value string `xml:"value,attr"`
}

func qemuArgs(args []string) *qemuCommandline {
	c := &qemuCommandline{}
	for _, a := range args {
		c.Args = append(c.Args, qemuArg{Value: a})
	}
	return c
}
