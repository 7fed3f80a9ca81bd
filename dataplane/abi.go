package dataplane

import (
	"fmt"
	"net"
)

// The ABI shared with bpf/handoff.c (see its struct definitions).

// Modes of a VM entry.
const (
	modePass    = 0
	modeMirror  = 1
	modeBuffer  = 2
	modeHold    = 3
	modeForward = 4
	modeRelease = 5
)

var modeNames = [...]string{"pass", "mirror", "buffer", "hold", "forward", "release"}

func modeName(m uint32) string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode%d", m)
}

// capturing reports whether frames captured in mode m are queued for
// injection or flushing (rather than mirror copies).
func capturing(m uint8) bool {
	return m == modeBuffer || m == modeHold || m == modeRelease
}

// vmKey is struct vm_key: a VM's MAC.
type vmKey struct {
	MAC [6]byte
	Pad uint16
}

func keyOf(mac net.HardwareAddr) vmKey {
	var k vmKey
	copy(k.MAC[:], mac)
	return k
}

func (k vmKey) String() string { return net.HardwareAddr(k.MAC[:]).String() }

// vmState is struct vm_state.
type vmState struct {
	Mode       uint32
	IP         uint32 // network byte order, as the bytes of the address
	TapIfindex uint32
	TunIfindex uint32
	RemoteIP   uint32 // host byte order
	VNI        uint32
}

// vmCounters is struct vm_counters (one CPU's, or their sum).
type vmCounters struct {
	Seen, Passed, Mirrored, Buffered, Held, Forwarded, ForwardedIn, ReleasedPass uint64
	DropRingFull, MirrorMissed, DropTooLarge, DropForward, DropNoTap             uint64
}

func (c *vmCounters) add(o vmCounters) {
	c.Seen += o.Seen
	c.Passed += o.Passed
	c.Mirrored += o.Mirrored
	c.Buffered += o.Buffered
	c.Held += o.Held
	c.Forwarded += o.Forwarded
	c.ForwardedIn += o.ForwardedIn
	c.ReleasedPass += o.ReleasedPass
	c.DropRingFull += o.DropRingFull
	c.MirrorMissed += o.MirrorMissed
	c.DropTooLarge += o.DropTooLarge
	c.DropForward += o.DropForward
	c.DropNoTap += o.DropNoTap
}

// sub returns c - o, field by field (counters only grow; a smaller value
// means the entry was recreated and counts from zero).
func (c vmCounters) sub(o vmCounters) vmCounters {
	d := func(a, b uint64) uint64 {
		if a < b {
			return a
		}
		return a - b
	}
	return vmCounters{
		d(c.Seen, o.Seen), d(c.Passed, o.Passed), d(c.Mirrored, o.Mirrored), d(c.Buffered, o.Buffered),
		d(c.Held, o.Held), d(c.Forwarded, o.Forwarded), d(c.ForwardedIn, o.ForwardedIn),
		d(c.ReleasedPass, o.ReleasedPass), d(c.DropRingFull, o.DropRingFull), d(c.MirrorMissed, o.MirrorMissed),
		d(c.DropTooLarge, o.DropTooLarge), d(c.DropForward, o.DropForward), d(c.DropNoTap, o.DropNoTap),
	}
}

// recHdrLen is the size of struct rec_hdr, the header of a ring record:
// u64 seq, u8 mac[6], u8 mode, u8 flags, u32 len, u32 ifindex, u64 ts_ns.
const recHdrLen = 32
