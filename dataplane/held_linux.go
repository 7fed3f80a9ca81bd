package dataplane

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
)

// The source's search for the frame QEMU held when the guest stopped
// (Switchover, Quiesce, Resumed in source_linux.go use it).

// heldState is the Switchover's finding about the frame QEMU took from the
// tap after the guest stopped.
type heldState struct {
	decided   bool
	probed    bool          // a probe was injected
	probeRead bool          // QEMU read the probe: it held nothing real
	quiet     bool          // Quiesce drained the tap before the guest stopped: nothing held
	m         uint64        // frames passed into the tap in MIRROR (copies + missed)
	copies    uint64        // of which copies
	u         int64         // unread estimate from the counters
	done      chan struct{} // closed when the detection has finished
}

// unread is the rule's count of frames passed into the tap since Begin and
// not yet read by QEMU nor dropped by the tap: M - R - D.
func (h *Handoff) unread(v *vmEntry) (int64, error) {
	ctr, err := h.d.maps.countersOf(v.key)
	if err != nil {
		return 0, err
	}
	dev, err := tapio.DevStats(v.tap.Name)
	if err != nil {
		return 0, err
	}
	d := ctr.sub(v.src.baseCtr)
	r := dev.TxPackets - v.src.baseDev.TxPackets
	dr := dev.TxDropped - v.src.baseDev.TxDropped
	return int64(d.Mirrored+d.MirrorMissed) - int64(r) - int64(dr), nil
}

// detectHeld applies the rule of the contract: unread u = M - R - D; u > 0:
// QEMU holds one, the u others are still in the tap; u <= 0: a probe
// (bypassing the hook) tells whether QEMU still reads the tap.
func (h *Handoff) detectHeld(ctx context.Context, v *vmEntry) {
	ctr, err := h.d.maps.countersOf(v.key)
	if err != nil {
		v.log.Error("held-frame detection", "err", err)
		return
	}
	d := ctr.sub(v.src.baseCtr)
	hs := heldState{decided: true, m: d.Mirrored + d.MirrorMissed, copies: d.Mirrored}
	v.mu.Lock()
	hs.done = v.src.held.done
	v.mu.Unlock()
	h.waitConsumed(ctx, v)
	tapio.Sleep(ctx, settleWait)
	dev, err := tapio.DevStats(v.tap.Name)
	if err != nil {
		v.log.Error("held-frame detection", "err", err)
		return
	}
	r := dev.TxPackets - v.src.baseDev.TxPackets
	dr := dev.TxDropped - v.src.baseDev.TxDropped
	hs.u = int64(hs.m) - int64(r) - int64(dr)
	if dr > 0 {
		// The tap's queue overflowed while the guest ran here in MIRROR
		// (its QEMU did not read it for long enough): those frames never
		// reached the guest.
		v.stats.drop(dropTapFull, dr)
		v.log.Warn("the tap dropped frames for the guest during the migration", "dropped", dr)
	}
	v.mu.Lock()
	quiesced := v.src.quiesced && !v.src.probeMissed
	v.mu.Unlock()
	switch {
	case hs.u <= 0 && quiesced:
		// The tap was drained before the guest stopped and nothing was
		// unread at the stop: QEMU holds nothing (no probe, which would
		// stay queued in the source QEMU).
		hs.quiet = true
	case hs.u <= 0:
		hs.probed = true
		hs.probeRead = h.probe(ctx, v, dev.TxPackets)
	}
	v.log.Info("switchover", "mirrored", hs.m, "read", r, "tx_dropped", dr, "unread", hs.u,
		"quiesced", quiesced, "probe_read", hs.probeRead)
	v.mu.Lock()
	v.src.held = hs
	v.mu.Unlock()
}

// probe injects a probe frame and reports whether QEMU read it.
func (h *Handoff) probe(ctx context.Context, v *vmEntry, tx uint64) bool {
	inj, err := tapio.NewInjector(v.tap.Name, v.log)
	if err != nil {
		v.log.Error("probe", "err", err)
		return false
	}
	err = inj.Inject(ctx, frame.Probe(v.mac))
	inj.Close()
	if err != nil {
		v.log.Error("probe", "err", err)
		return false
	}
	deadline := time.Now().Add(probeWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if dev, err := tapio.DevStats(v.tap.Name); err == nil && dev.TxPackets > tx {
			return true
		}
		tapio.Sleep(ctx, time.Millisecond)
	}
	return false
}

// waitConsumed waits (bounded) until the ring reader has taken every record
// the program captured for v; it returns how many are still missing.
func (h *Handoff) waitConsumed(ctx context.Context, v *vmEntry) uint64 {
	deadline := time.Now().Add(consumeWait)
	for {
		captured, err := h.d.maps.capturedOf(v.key)
		if err != nil {
			v.log.Error("reading captured", "err", err)
			return 0
		}
		v.mu.Lock()
		done := v.consumed()
		v.mu.Unlock()
		if done >= captured {
			return 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return captured - done
		}
		tapio.Sleep(ctx, time.Millisecond)
	}
}

// Why Quiesce exists (measured with a QEMU filter-dump, about one
// migration in eight at 1000 pps under TCG, when QEMU chose the
// switchover): QEMU 7.2's vm_stop sets the run state first, pauses the
// vCPUs, then runs the state-change handlers, and net's handler purges
// (drops) the packets queued for the device. A frame that reaches the tap
// between the two (QEMU reads it and queues it, the guest being stopped) is
// purged; QEMU then reads the next one and holds it (the frame found here).
// The purged frame was read by QEMU, so the tap counters and the residue
// cannot show it. With Quiesce the agent stops the guest only after BUFFER
// and an empty tap, so nothing is in QEMU's hands at the stop; the held
// frame and residue logic below stay for a stop QEMU makes itself (an agent
// without Quiesce upstream, or a pass that left almost nothing dirty before
// the agent's decision).
//
// heldFrame returns the frame QEMU holds (v.mu held). wanted says whether
// QEMU holds one at all; ok whether its copy was found. The tap is a FIFO
// and QEMU reads it in order, so the frame QEMU took is the MIRROR copy
// just before the first residue frame; with no residue it is the newest
// copy, unless QEMU read the probe (then it holds the probe). Matching by
// content rather than by counts stays right whatever the counters missed
// (frames in the tap before Begin, copies the ring could not take).
func (v *vmEntry) heldFrame(residue [][]byte) (held []byte, ok, wanted bool) {
	hs := v.src.held
	if !hs.decided {
		return nil, false, false
	}
	n := v.src.mirror.N()
	if len(residue) == 0 {
		if hs.quiet {
			return nil, false, false
		}
		if !hs.probed {
			// The counts said frames were unread, yet the tap is empty:
			// nothing tells which frame QEMU has, if any.
			v.log.Warn("held frame unknown: the counts said unread frames, the tap had none", "unread", hs.u)
			return nil, false, true
		}
		if hs.probeRead || n == 0 {
			// QEMU read the probe, or nothing passed into the tap since
			// Begin (what QEMU may hold then predates the migration).
			return nil, false, false
		}
		held, ok = v.src.mirror.Get(n)
		return held, ok, true
	}
	if n == 0 {
		// Nothing passed into the tap since Begin: the residue predates the
		// migration (or is not the VM's), and so does whatever QEMU holds.
		return nil, false, false
	}
	// Every frame after the held one is in the residue (BUFFER keeps new
	// ones out), so residue[0] is copy n-len(residue)+1 unless the tap
	// dropped some: search from there down.
	start := uint64(0)
	if n >= uint64(len(residue)) {
		start = n - uint64(len(residue)) + 1
	}
	if k, found := v.src.mirror.Find(residue[0], start); found {
		return v.heldBefore(k)
	}
	// A frame that is not the VM's (the host's own, say) may lead the
	// residue: the first residue frame that is a copy still follows the
	// held one (the tap is a FIFO). Its index is unknown then: search all.
	for _, f := range residue[1:min(len(residue), residueScan)] {
		if k, found := v.src.mirror.Find(f, n); found {
			return v.heldBefore(k)
		}
	}
	last, _ := v.src.mirror.Get(n)
	v.log.Warn("no residue frame is among the MIRROR copies", "copies", n, "residue", len(residue),
		"first_residue", fmt.Sprintf("%x", residue[0][:min(len(residue[0]), 80)]), "last_copy", fmt.Sprintf("%x", last[:min(len(last), 80)]))
	return nil, false, true
}

// residueScan is how many residue frames heldFrame tries to find among the
// MIRROR copies.
const residueScan = 8

// heldBefore returns copy k-1, the frame QEMU holds when copy k leads what
// it left in the tap (v.mu held).
func (v *vmEntry) heldBefore(k uint64) (held []byte, ok, wanted bool) {
	held, ok = v.src.mirror.Get(k - 1)
	if !ok {
		v.log.Warn("the held frame's copy is gone", "copy", k-1)
	}
	return held, ok, true
}
