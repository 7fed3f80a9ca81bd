package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The source's part of a migration, every mode change of it in this file:
//
//	Begin                 PASS -> MIRROR   frames pass and are copied (v.src.mirror)
//	Quiesce, Switchover   -> BUFFER        frames are queued; the frame QEMU held is looked for (held_linux.go)
//	Resumed               -> FORWARD       stragglers go to the destination; held, residue, buffer go to flush (flush_linux.go)
//	Rollback              MIRROR, FORWARD -> PASS; BUFFER -> RELEASE -> PASS (release_linux.go)

// Timing of the source's bookkeeping (bounded waits, never on the success
// path of a healthy run).
const (
	consumeWait = 200 * time.Millisecond // for the ring reader to catch up with captured
	settleWait  = 5 * time.Millisecond   // for QEMU to read what it is about to read
	probeWait   = 200 * time.Millisecond // for QEMU to read the probe
	drainStep   = 200 * time.Microsecond // between two looks at the tap's counters
	residueMax  = 1 << 16
)

// begin starts MIRROR: a NIC's frames pass and are copied, so the one QEMU
// will hold when the guest stops can be recovered.
func (h *Handoff) begin(ctx context.Context, spec api.VMSpec, peer netip.Addr) error {
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
	if v.src.borrowed != nil {
		v.src.borrowed.Close() // left by an earlier migration that neither flushed nor rolled back
	}
	v.role, v.discard, v.src = roleSource, false, sourceState{peer: peer}
	if err := h.setMode(v, modeMirror, "mirror", nil); err != nil {
		return err
	}
	// Baselines for Switchover, tap counters first: any error this order
	// leaves underestimates the unread count, which the probe and the
	// residue then correct.
	if v.src.baseDev, err = tapio.DevStats(v.tap.Name); err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	if v.src.baseCtr, err = h.d.maps.countersOf(v.key); err != nil {
		return err
	}
	return nil
}

// startBuffer sets BUFFER once per migration; quiesce says it is Quiesce
// that asks.
func (h *Handoff) startBuffer(spec api.VMSpec, quiesce bool) (*vmEntry, error) {
	v, err := h.lookup(spec)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.role != roleSource {
		// Begin was not called (an agent without MIRROR support upstream):
		// buffer anyway, the held frame cannot be recovered.
		ctr, _ := h.d.maps.countersOf(v.key)
		v.stats.reset(ctr, time.Now())
		v.role, v.discard = roleSource, false
		v.src.held, v.src.baseCtr, v.src.baseDev = heldState{}, ctr, tapio.DevCounters{}
	}
	if !v.src.quiesced {
		if err := h.setMode(v, modeBuffer, "buffer", nil); err != nil {
			return nil, err
		}
	}
	v.src.quiesced = v.src.quiesced || quiesce
	return v, nil
}

// quiesce (the guest still runs; see handoff.Quiescer) starts BUFFER and
// returns once QEMU has read every frame passed into the tap since Begin
// (unread M - R - D down to 0), so that stopping the guest next catches
// none in QEMU's hands. It fails if the tap has not drained within ctx.
func (h *Handoff) quiesce(ctx context.Context, spec api.VMSpec) error {
	v, err := h.startBuffer(spec, true)
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
			if err := h.quiesceProbe(ctx, v); err != nil {
				return fmt.Errorf("vm %s: quiesce: %w", spec.Name, err)
			}
			v.log.Debug("quiesced", "took", time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("vm %s: quiesce: %d frames still unread in the tap after %v", spec.Name, u, time.Since(start).Round(time.Millisecond))
		}
		tapio.Sleep(ctx, drainStep)
	}
}

// quiesceProbe, for a tap the agent did not open (a libvirt guest's,
// whose QEMU the agent cannot ask about the guest's receive ring), makes
// sure QEMU holds none of the frames it read: a frame QEMU read while the
// guest's ring was full waits in QEMU's queue, QEMU reads nothing more
// until the guest takes it, and the stop would drop it unseen (the tap
// drained is no proof). A probe passed into the tap is read only once
// that queue is empty; read, QEMU holds at most the probe. Not read in
// time: Switchover's detection runs as if the VM had not been quiesced,
// and recovers the held frame. The agent's own guests have their
// ring checked over QMP instead (the session's rxSettle).
func (h *Handoff) quiesceProbe(ctx context.Context, v *vmEntry) error {
	v.mu.Lock()
	foreign := v.tap.File == nil && v.tap.Name != ""
	v.mu.Unlock()
	if !foreign {
		return nil
	}
	dev, err := tapio.DevStats(v.tap.Name)
	if err != nil {
		return err
	}
	if h.probe(ctx, v, dev.TxPackets) {
		return nil
	}
	v.mu.Lock()
	v.src.probeMissed = true
	v.mu.Unlock()
	return errors.New("QEMU did not read a probe after the tap drained: it holds a frame for the guest's full receive ring")
}

// switchover (the guest is stopped) starts BUFFER and finds out whether
// QEMU holds a frame it read after the guest stopped.
func (h *Handoff) switchover(ctx context.Context, spec api.VMSpec) error {
	v, err := h.startBuffer(spec, false)
	if err != nil {
		return err
	}
	// The detection (a settle wait and maybe a probe) runs while QEMU
	// finishes the migration: QEMU's downtime does not wait for it;
	// Resumed does.
	done := make(chan struct{})
	v.mu.Lock()
	v.src.held.done = done
	if v.tap.File == nil && v.tap.Name != "" && v.src.borrowed == nil {
		// A tap the agent did not open (a libvirt guest's): keep it, and
		// the frames queued in it, past its QEMU's end, for Resumed.
		if f, pid, err := tapio.TapFileOf(v.tap.Name); err != nil {
			v.log.Warn("no descriptor of the tap: the frames queued in it cannot be recovered", "err", err)
		} else {
			v.log.Debug("tap descriptor borrowed for the residue", "pid", pid)
			v.src.borrowed = f
		}
	}
	v.mu.Unlock()
	go func() {
		defer close(done)
		h.detectHeld(context.WithoutCancel(ctx), v)
	}()
	return nil
}

// resumed (the guest runs at the destination): FORWARD, then the held
// frame, the tap's residue and the BUFFER queue go to flush (nil: there is
// none), in that order, as NIC nic's section.
func (h *Handoff) resumed(ctx context.Context, spec api.VMSpec, nic int, flush io.Writer) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	err = h.setMode(v, modeForward, "forward", func(st *vmState) {
		st.TunIfindex, st.Vni = uint32(h.d.tunIndex), VNI
		if v.src.peer.Is4() {
			st.RemoteIp = hostOrder(v.src.peer)
		}
	})
	tap := v.tap
	detected := v.src.held.done
	borrowed := v.src.borrowed
	v.src.borrowed = nil
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
	file := tap.File
	if borrowed != nil {
		defer borrowed.Close()
		if file == nil {
			file = borrowed
		}
	}
	if file != nil {
		var probes int
		residue, probes, err = tapio.ReadResidue(file, residueMax)
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
	return h.writeFlush(v, flush, nic, held, residue, buffered)
}

// rollbackSource (the guest runs here again): MIRROR and FORWARD go back
// to PASS; BUFFER gives the buffered frames back to the tap, in order,
// behind the residue still queued in it, through RELEASE.
func (h *Handoff) rollbackSource(ctx context.Context, v *vmEntry) error {
	v.mu.Lock()
	st, exists, err := h.d.maps.state(v.key)
	if err != nil || !exists {
		v.mu.Unlock()
		return err
	}
	tap := v.tap.Name
	v.role = roleNone
	if v.src.borrowed != nil {
		v.src.borrowed.Close()
		v.src.borrowed = nil
	}
	switch st.Mode {
	case modeBuffer:
		// Released below.
	case modeMirror, modeForward:
		// MIRROR: nothing was taken from the traffic. FORWARD: the flush
		// already went; the VM is back here, so traffic must pass.
		err := h.setMode(v, modePass, "", nil)
		v.mu.Unlock()
		v.log.Info("rolled back", "from", st.Mode.String())
		return err
	default:
		v.mu.Unlock()
		return nil
	}
	v.mu.Unlock()
	if err := h.replay(ctx, v, tap, true); err != nil {
		return fmt.Errorf("vm %s: rollback: %w", v.name, err)
	}
	v.log.Info("rolled back: buffered frames returned to the tap")
	return nil
}
