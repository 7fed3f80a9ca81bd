package dataplane

import (
	"net"
	"unsafe"
)

// The ABI shared with bpf/handoff.c is bpf2go's: handoff_bpfel.go holds the
// Go twins of struct vm_key, vm_state, vm_counters, rec_hdr, tunnel_counters
// and enum vm_mode (the -type flags in gen.go), and abi_test.go checks them
// against the BTF of the compiled object. These are the names the package
// uses.
type (
	vmKey      = handoffVmKey      // a VM's MAC
	vmState    = handoffVmState    // a VM's entry: its mode and where its frames go
	vmCounters = handoffVmCounters // one CPU's counters of a VM, or their sum
	recHdr     = handoffRecHdr     // the header of a ring record, then the frame
	// tunnelCounters: one CPU's count of the frames tunnel_ingress
	// dropped that were for no VM, or their sum.
	tunnelCounters = handoffTunnelCounters
)

// recHdrLen is the size of struct rec_hdr; the other constants are the
// offsets of the fields the ring reader parses.
const (
	recHdrLen  = int(unsafe.Sizeof(recHdr{}))
	recSeqAt   = int(unsafe.Offsetof(recHdr{}.Seq))
	recMacAt   = int(unsafe.Offsetof(recHdr{}.Mac))
	recModeAt  = int(unsafe.Offsetof(recHdr{}.Mode))
	recLenAt   = int(unsafe.Offsetof(recHdr{}.Len))
	macLen     = len(vmKey{}.Mac)
	recMacLast = recMacAt + macLen
)

func keyOf(mac net.HardwareAddr) vmKey {
	var k vmKey
	copy(k.Mac[:], mac)
	return k
}

func (k vmKey) String() string { return net.HardwareAddr(k.Mac[:]).String() }

// add adds o to c, field by field.
func (c *vmCounters) add(o vmCounters) {
	c.combine(o, func(a, b uint64) uint64 { return a + b })
}

// sub returns c - o, field by field (counters only grow; a smaller value
// means the entry was recreated and counts from zero).
func (c vmCounters) sub(o vmCounters) vmCounters {
	c.combine(o, func(a, b uint64) uint64 {
		if a < b {
			return a
		}
		return a - b
	})
	return c
}

// combine sets each counter of c to op(c's, o's).
func (c *vmCounters) combine(o vmCounters, op func(a, b uint64) uint64) {
	for i, p := range c.fields() {
		*p = op(*p, *o.fields()[i])
	}
}

// fields are c's counters, in the order of struct vm_counters.
func (c *vmCounters) fields() []*uint64 {
	return []*uint64{&c.Seen, &c.Passed, &c.Mirrored, &c.Buffered, &c.Held, &c.Forwarded,
		&c.ForwardedIn, &c.ReleasedPass, &c.DropRingFull, &c.MirrorMissed, &c.DropTooLarge,
		&c.DropForward, &c.DropNoTap, &c.DropTunnel, &c.ArpAnswered, &c.GuardTripped}
}
