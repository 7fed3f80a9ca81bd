package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// Timing of the source's bookkeeping (bounded waits, never on the success
// path of a healthy run).
const (
	consumeWait = 200 * time.Millisecond // for the ring reader to catch up with captured
	settleWait  = 5 * time.Millisecond   // for QEMU to read what it is about to read
	probeWait   = 200 * time.Millisecond // for QEMU to read the probe
	drainStep   = 200 * time.Microsecond // between two looks at the tap's counters
	residueMax  = 1 << 16
)

// dropInject is the reason of frames the tap refused or that cannot be
// injected at all (shorter than an Ethernet header).
const dropInject = "inject"

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

// Begin starts MIRROR: the VM's frames pass and are copied, so the one QEMU
// will hold when the guest stops can be recovered.
func (h *Handoff) Begin(ctx context.Context, spec api.VMSpec, peer netip.Addr) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tap.Name == "" {
		return fmt.Errorf("vm %s: begin without a tap", spec.Name)
	}
	peer = peer.Unmap()
	if !peer.Is4() {
		v.log.Warn("peer is not IPv4: stragglers cannot be forwarded", "peer", peer)
	}
	ctr, err := h.d.maps.countersOf(v.key)
	if err != nil {
		return err
	}
	v.stats.reset(ctr, time.Now())
	v.queue.ResetStats()
	v.role, v.peer, v.discard, v.held, v.quiesced = roleSource, peer, false, heldState{}, false
	v.mirror.reset()
	if err := h.setMode(v, modeMirror, "mirror", nil); err != nil {
		return err
	}
	// Baselines for Switchover, tap counters first: any error this order
	// leaves underestimates the unread count, which the probe and the
	// residue then correct.
	if v.baseDev, err = DevStats(v.tap.Name); err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	if v.baseCtr, err = h.d.maps.countersOf(v.key); err != nil {
		return err
	}
	return nil
}

// startBuffer sets BUFFER once per migration (v.mu held).
func (h *Handoff) startBuffer(v *vmEntry) error {
	if v.role != roleSource {
		// Begin was not called (an agent without MIRROR support upstream):
		// buffer anyway, the held frame cannot be recovered.
		ctr, _ := h.d.maps.countersOf(v.key)
		v.stats.reset(ctr, time.Now())
		v.role, v.discard, v.held = roleSource, false, heldState{}
		v.baseCtr, v.baseDev = ctr, DevCounters{}
	}
	if v.quiesced {
		return nil
	}
	return h.setMode(v, modeBuffer, "buffer", nil)
}

// Quiesce (the guest still runs; see handoff.Quiescer) starts BUFFER and
// returns once QEMU has read every frame passed into the tap since Begin
// (unread M - R - D down to 0), so that stopping the guest next catches
// none in QEMU's hands. It fails if the tap has not drained within ctx.
func (h *Handoff) Quiesce(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	err = h.startBuffer(v)
	if err == nil {
		v.quiesced = true
	}
	v.mu.Unlock()
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		u, err := h.unread(v)
		if err != nil {
			return fmt.Errorf("vm %s: quiesce: %w", spec.Name, err)
		}
		if u <= 0 {
			v.log.Debug("quiesced", "took", time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("vm %s: quiesce: %d frames still unread in the tap after %v", spec.Name, u, time.Since(start).Round(time.Millisecond))
		}
		sleepCtx(ctx, drainStep)
	}
}

// unread is the rule's count of frames passed into the tap since Begin and
// not yet read by QEMU nor dropped by the tap: M - R - D.
func (h *Handoff) unread(v *vmEntry) (int64, error) {
	ctr, err := h.d.maps.countersOf(v.key)
	if err != nil {
		return 0, err
	}
	dev, err := DevStats(v.tap.Name)
	if err != nil {
		return 0, err
	}
	d := ctr.sub(v.baseCtr)
	r := dev.TxPackets - v.baseDev.TxPackets
	dr := dev.TxDropped - v.baseDev.TxDropped
	return int64(d.Mirrored+d.MirrorMissed) - int64(r) - int64(dr), nil
}

// Switchover (the guest is stopped) starts BUFFER and finds out whether
// QEMU holds a frame it read after the guest stopped.
func (h *Handoff) Switchover(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	err = h.startBuffer(v)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	// The detection (a settle wait and maybe a probe) runs while QEMU
	// finishes the migration: QEMU's downtime does not wait for it;
	// Resumed does.
	done := make(chan struct{})
	v.mu.Lock()
	v.held.done = done
	v.mu.Unlock()
	go func() {
		defer close(done)
		h.detectHeld(context.WithoutCancel(ctx), v)
	}()
	return nil
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
	d := ctr.sub(v.baseCtr)
	hs := heldState{decided: true, m: d.Mirrored + d.MirrorMissed, copies: d.Mirrored}
	v.mu.Lock()
	hs.done = v.held.done
	v.mu.Unlock()
	h.waitConsumed(ctx, v)
	sleepCtx(ctx, settleWait)
	dev, err := DevStats(v.tap.Name)
	if err != nil {
		v.log.Error("held-frame detection", "err", err)
		return
	}
	r := dev.TxPackets - v.baseDev.TxPackets
	dr := dev.TxDropped - v.baseDev.TxDropped
	hs.u = int64(hs.m) - int64(r) - int64(dr)
	v.mu.Lock()
	quiesced := v.quiesced
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
	v.held = hs
	v.mu.Unlock()
}

// probe injects a probe frame and reports whether QEMU read it.
func (h *Handoff) probe(ctx context.Context, v *vmEntry, tx uint64) bool {
	inj, err := NewInjector(v.tap.Name, v.log)
	if err != nil {
		v.log.Error("probe", "err", err)
		return false
	}
	err = inj.Inject(ctx, ProbeFrame(v.mac))
	inj.Close()
	if err != nil {
		v.log.Error("probe", "err", err)
		return false
	}
	deadline := time.Now().Add(probeWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if dev, err := DevStats(v.tap.Name); err == nil && dev.TxPackets > tx {
			return true
		}
		sleepCtx(ctx, time.Millisecond)
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
		sleepCtx(ctx, time.Millisecond)
	}
}

// Resumed (the guest runs at the destination): FORWARD, then the held
// frame, the tap's residue and the BUFFER queue go to flush, in that order.
func (h *Handoff) Resumed(ctx context.Context, spec api.VMSpec, flush handoff.Stream) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	err = h.setMode(v, modeForward, "forward", func(st *vmState) {
		st.TunIfindex, st.VNI = uint32(h.d.tunIndex), VNI
		if v.peer.Is4() {
			st.RemoteIP = hostOrder(v.peer)
		}
	})
	tap := v.tap
	detected := v.held.done
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if detected != nil {
		select {
		case <-detected:
		case <-ctx.Done():
		}
	}
	var residue [][]byte
	if tap.File != nil {
		var probes int
		residue, probes, err = ReadResidue(tap.File, residueMax)
		if err != nil {
			v.log.Error("reading tap residue", "err", err)
		}
		v.log.Debug("residue", "frames", len(residue), "probes", probes)
	}
	lost := h.waitConsumed(ctx, v)
	v.mu.Lock()
	v.discard = true // late records were counted as lost here
	buffered := v.queue.Drain()
	held, heldOK, wanted := v.heldFrame(residue)
	v.mu.Unlock()
	v.stats.drop(dropFlushLost, lost)
	v.stats.update(func(s *api.HandoffStats) { s.Residue += uint64(len(residue)) })
	if wanted && !heldOK {
		v.stats.drop(dropHeldUnrecovered, 1)
	}
	return h.writeFlush(v, flush, held, residue, buffered)
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
	hs := v.held
	if !hs.decided {
		return nil, false, false
	}
	n := v.mirror.n
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
		held, ok = v.mirror.get(n)
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
	if k, found := v.mirror.find(residue[0], start); found {
		return v.heldBefore(k)
	}
	// A frame that is not the VM's (the host's own, say) may lead the
	// residue: the first residue frame that is a copy still follows the
	// held one (the tap is a FIFO). Its index is unknown then: search all.
	for _, f := range residue[1:min(len(residue), residueScan)] {
		if k, found := v.mirror.find(f, n); found {
			return v.heldBefore(k)
		}
	}
	v.log.Warn("no residue frame is among the MIRROR copies", "copies", n, "residue", len(residue))
	return nil, false, true
}

// residueScan is how many residue frames heldFrame tries to find among the
// MIRROR copies.
const residueScan = 8

// heldBefore returns copy k-1, the frame QEMU holds when copy k leads what
// it left in the tap (v.mu held).
func (v *vmEntry) heldBefore(k uint64) (held []byte, ok, wanted bool) {
	held, ok = v.mirror.get(k - 1)
	if !ok {
		v.log.Warn("the held frame's copy is gone", "copy", k-1)
	}
	return held, ok, true
}

// writeFlush writes the flush stream (held < residue < buffered) and
// finishes the buffered records. What cannot be sent is counted as lost.
func (h *Handoff) writeFlush(v *vmEntry, flush handoff.Stream, held []byte, residue [][]byte, buffered []frame) error {
	defer v.finish(uint64(len(buffered)))
	total := uint64(len(residue) + len(buffered))
	if held != nil {
		total++
	}
	if flush == nil {
		v.stats.drop(dropFlushLost, total)
		return fmt.Errorf("vm %s: no flush stream: %d frames lost", v.name, total)
	}
	w := NewFlushWriter(flush)
	var sent, tooLarge uint64
	var werr error
	write := func(o Origin, b []byte) bool {
		if werr != nil {
			return false
		}
		if len(b) == 0 || len(b) > MaxFrame {
			tooLarge++
			return false
		}
		if werr = w.WriteFrame(o, b); werr != nil {
			return false
		}
		sent++
		return true
	}
	heldSent := held != nil && write(OriginHeld, held)
	for _, b := range residue {
		write(OriginResidue, b)
	}
	for _, f := range buffered {
		write(OriginBuffered, f.data)
	}
	if werr == nil {
		werr = w.Close()
	}
	if werr != nil {
		// The writer buffers: frames it took may never have left. Nothing
		// is known to have arrived (the destination's Flushed says what did).
		sent, heldSent = 0, false
	}
	v.stats.drop(dropTooLarge, tooLarge)
	v.stats.drop(dropFlushLost, total-sent-tooLarge)
	v.stats.update(func(s *api.HandoffStats) {
		s.Flushed += sent
		if heldSent && werr == nil {
			s.HeldInQEMU++
		}
	})
	v.log.Info("flushed", "frames", sent, "held", heldSent, "residue", len(residue), "buffered", len(buffered))
	if werr != nil {
		return fmt.Errorf("vm %s: writing flush: %w", v.name, werr)
	}
	return nil
}
