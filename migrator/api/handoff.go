package api

// HandoffStats is one end's account of a migration's traffic hand-off.
type HandoffStats struct {
	Mirrored    uint64 `json:"mirrored,omitempty"`     // source: frames copied while MIRROR
	Buffered    uint64 `json:"buffered,omitempty"`     // source: frames captured in BUFFER
	Residue     uint64 `json:"residue,omitempty"`      // source: frames read from the source tap's queue
	HeldInQEMU  uint64 `json:"held_in_qemu,omitempty"` // source: frames QEMU had taken but not delivered, recovered
	Flushed     uint64 `json:"flushed,omitempty"`      // source: frames sent on the flush stream; dest: frames injected from it
	Held        uint64 `json:"held,omitempty"`         // dest: frames captured in HOLD/RELEASE
	Released    uint64 `json:"released,omitempty"`     // dest: held frames injected
	Forwarded   uint64 `json:"forwarded,omitempty"`    // source: stragglers sent to the destination (so far)
	ForwardedIn uint64 `json:"forwarded_in,omitempty"` // dest: stragglers received through the tunnel
	Returned    uint64 `json:"returned,omitempty"`     // source rollback: frames put back into the source tap
	ARPAnswered uint64 `json:"arp_answered,omitempty"` // dest: ARP requests for the guest answered by the host while its traffic was held
	// RollbackFlooded (dest rollback): held broadcast and multicast frames
	// let go with the HOLD entry. Not a loss: the bridges flooded them to
	// the source too, where the guest had its copy.
	RollbackFlooded uint64 `json:"rollback_flooded,omitempty"`
	// GuardTripped (dest): times the dataplane found the agent gone during
	// a post-copy and held the guest's traffic itself until the agent's
	// next run.
	GuardTripped uint64 `json:"guard_tripped,omitempty"`
	// ReplayRate is the pace (frames/s, after a burst) of the last replay
	// into a tap: the destination's release or the source's rollback.
	ReplayRate float64 `json:"replay_rate,omitempty"`
	// Dropped counts frames lost, by reason: ring_full, queue_full,
	// too_large, tap_full, inject, forward, no_tap, tunnel_refused (came
	// through the tunnel from a host not in the peers file, or with
	// another VNI), held_unrecovered, rollback_dest (held unicast frames
	// a rolled-back destination let go; the flooded ones are in
	// RollbackFlooded), flush_lost, flush_unconfirmed, ring_lost, restart,
	// detached, postcopy_stall.
	Dropped        map[string]uint64   `json:"dropped,omitempty"`
	GARPs          int                 `json:"garps,omitempty"`
	HighWaterBytes int64               `json:"high_water_bytes,omitempty"` // user-space queue high-water mark
	Modes          map[string]Duration `json:"modes,omitempty"`            // time spent in each mode ("mirror","buffer","hold","release","forward")
	// NICs are each NIC's own account, NIC 0 first, for a VM with several
	// (the fields above are then their sum, see Add); empty for one NIC.
	NICs []HandoffStats `json:"nics,omitempty"`
}

// Drop reasons the migrator's sessions read or write (the dataplane
// names the others).
const (
	// DropInject (destination): frames the tap refused, or too short to
	// inject.
	DropInject = "inject"
	// DropFlushUnconfirmed (source): frames written on the flush stream
	// that the destination never reported injecting nor failing to: its
	// agent died while taking them, or its report never came. They are
	// lost if it died before injecting them; its own record, when it has
	// one, says what it injected.
	DropFlushUnconfirmed = "flush_unconfirmed"
)

// DroppedTotal is the sum of Dropped over all reasons.
func (h HandoffStats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range h.Dropped {
		n += v
	}
	return n
}

// HandoffReport is both ends' account of a migration's traffic hand-off.
type HandoffReport struct {
	Source      HandoffStats `json:"source"`
	Destination HandoffStats `json:"destination"`
}

// Add adds o's counts into h: counters and drops summed, the high-water
// mark, replay rate and each mode's time the larger of the two (NICs move
// together).
func (h *HandoffStats) Add(o HandoffStats) {
	h.Mirrored += o.Mirrored
	h.Buffered += o.Buffered
	h.Residue += o.Residue
	h.HeldInQEMU += o.HeldInQEMU
	h.Flushed += o.Flushed
	h.Held += o.Held
	h.Released += o.Released
	h.Forwarded += o.Forwarded
	h.ForwardedIn += o.ForwardedIn
	h.Returned += o.Returned
	h.ARPAnswered += o.ARPAnswered
	h.RollbackFlooded += o.RollbackFlooded
	h.GuardTripped += o.GuardTripped
	h.ReplayRate = max(h.ReplayRate, o.ReplayRate)
	for r, n := range o.Dropped {
		if h.Dropped == nil {
			h.Dropped = map[string]uint64{}
		}
		h.Dropped[r] += n
	}
	h.GARPs += o.GARPs
	h.HighWaterBytes = max(h.HighWaterBytes, o.HighWaterBytes)
	for m, d := range o.Modes {
		if h.Modes == nil {
			h.Modes = map[string]Duration{}
		}
		h.Modes[m] = max(h.Modes[m], d)
	}
}
