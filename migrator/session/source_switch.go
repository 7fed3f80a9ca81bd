package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Bounds of the agent's switchover (never reached on a healthy host).
const (
	quiesceTimeout = 250 * time.Millisecond // Handoff.Quiesce: the guest runs, its traffic buffered, meanwhile
	rxSettleMax    = 100 * time.Millisecond // the guest's rx ring showing free buffers (the guest runs meanwhile)
	rxSettleStep   = 1 * time.Millisecond   // between two looks at it
	lookTimeout    = 500 * time.Millisecond // one QMP look before the stop (query-status, x-query-virtio-queue-status)
	// qemuIterationMax is QEMU 7.2's MAX_WAIT: one ram_save_iterate call
	// sends pages for up to 50 ms (its clock runs while a write blocks)
	// before QEMU looks at a post-copy request again.
	qemuIterationMax = 50 * time.Millisecond
)

// stopGuest stops the guest for the switchover or the start of post-copy
// (a is the decision): it holds QEMU's channels, quiets the tap through the
// hand-off, lets the guest take what QEMU delivered, stops the guest and,
// for post-copy, starts it; then QEMU's channels flow again and QEMU
// finishes with the guest stopped. A guest QEMU stopped on its own before
// the hold is left to QEMU's switchover (nothing quiesced, nothing started).
func (s *source) stopGuest(ctx context.Context, a policy.Action) error {
	s.quietGuest(ctx, true)
	s.endBlackout()
	end, waited := s.cfg.Blackouts.begin(ctx, s.gate)
	s.endBlackout = end
	if waited > time.Millisecond {
		s.log.Info("waited for another guest's blackout before stopping this one", "waited", waited)
	}
	s.gate.hold()
	defer s.gate.release()
	if a.Kind == policy.KindPostcopy {
		// QEMU is blocked in the iteration it was in: hold it, the guest
		// still running with its traffic flowing, until that iteration
		// has run out its time, so that once released QEMU starts
		// post-copy after a few more pages rather than up to 50 ms of
		// them with the guest stopped (measured: 46-92 ms of the pause).
		sleepCtx(ctx, qemuIterationMax)
	}
	if s.stoppedByQEMU(ctx) {
		// QEMU met its own threshold before the hold and stopped the
		// guest itself: a stopped guest drains no tap, so a quiesce
		// would only wait out its timeout with the traffic buffered
		// (seen: 250 ms). Switchover recovers what QEMU holds, as for
		// any stop of QEMU's (noteQEMUStop).
		s.log.Warn("qemu stopped the guest before the agent could", "for", a.Kind)
		return nil
	}
	if q, ok := s.cfg.Handoff.(handoff.Quiescer); ok {
		err := bounded(ctx, quiesceTimeout, func(ctx context.Context) error {
			return q.Quiesce(ctx, s.cfg.Spec)
		})
		if err != nil {
			// Switchover at pre-switchover still buffers and recovers what
			// it can; the stop must not wait for the hand-off.
			s.log.Warn("hand-off quiesce", "err", err)
		}
	}
	s.rxSettle(ctx)
	if err := s.cfg.Guest.Execute(ctx, qmpcmd.Stop, nil, nil); err != nil {
		return fmt.Errorf("%w: stopping the guest for the %s: %w", api.ErrQEMU, a.Kind, err)
	}
	if s.pause.stopped.IsZero() {
		s.pause.stopped = time.Now()
	}
	s.agentStopped = true
	s.log.Info("guest stopped by the agent", "for", a.Kind)
	// Every byte QEMU still sends is pause now: it goes unpaced, as QEMU's
	// own completion ignores its cap (and its post-copy runs unlimited:
	// the destination's page requests travel behind its bulk). What is
	// left is what the policy found to fit the downtime target.
	s.bandwidth = 0
	s.gate.setRate(0)
	s.rec.update(true, func(m *api.Migration) { m.Progress.Bandwidth = 0 })
	if a.Kind == policy.KindPostcopy {
		if err := policy.Apply(ctx, s.cfg.Guest, a); err != nil {
			return fmt.Errorf("%w: %w", api.ErrQEMU, err)
		}
	}
	return nil
}

// quietGuest lets go of the guest's side channels (QuietGuest) while it
// still runs here.
func (s *source) quietGuest(ctx context.Context, final bool) {
	if s.cfg.QuietGuest != nil {
		s.cfg.QuietGuest(ctx, final)
	}
}

// stoppedByQEMU says whether QEMU has stopped the guest on its own (its
// run state is no longer running). A failed look says no: the agent stops
// the guest as usual.
func (s *source) stoppedByQEMU(ctx context.Context) bool {
	var st string
	err := bounded(ctx, lookTimeout, func(ctx context.Context) error {
		var err error
		st, err = runState(ctx, s.cfg.Guest)
		return err
	})
	return err == nil && st != "" && st != qmpcmd.RunStateRunning
}

// rxSettle waits (at most rxSettleMax) until QEMU has seen free buffers in
// the guest's receive ring: a frame QEMU read while the ring was full
// waits in QEMU's queue and would be dropped by the stop; with free
// buffers nothing waits there. It gives up quietly: older QEMUs have no
// x-query-virtio-queue-status, and Switchover's detection is the fallback.
func (s *source) rxSettle(ctx context.Context) {
	if s.rxPath == "" && !s.rxPathTried {
		s.rxPathTried = true
		var devs []qmpcmd.VirtioDevice
		err := bounded(ctx, lookTimeout, func(ctx context.Context) error {
			return s.cfg.Guest.Execute(ctx, qmpcmd.XQueryVirtio, nil, &devs)
		})
		for _, d := range devs {
			if d.Name == "virtio-net" {
				s.rxPath = d.Path
				break
			}
		}
		if s.rxPath == "" {
			s.log.Debug("no virtio-net device to watch the receive ring of", "err", err)
		}
	}
	if s.rxPath == "" {
		return
	}
	deadline := time.Now().Add(rxSettleMax)
	for {
		var q qmpcmd.VirtioQueueStatus
		err := bounded(ctx, lookTimeout, func(ctx context.Context) error {
			return s.cfg.Guest.Execute(ctx, qmpcmd.XQueryVirtioQueueStatus, qmpcmd.VirtioQueue{Path: s.rxPath, Queue: 0}, &q)
		})
		switch {
		case err != nil:
			s.log.Debug(qmpcmd.XQueryVirtioQueueStatus, "err", err)
			return
		case q.ShadowAvail != q.LastAvail:
			return
		case time.Now().After(deadline):
			// A frame QEMU holds for the full ring is lost at the stop,
			// uncounted: say so where the operator looks.
			s.log.Warn("guest's receive ring still full at the stop: a frame QEMU holds for it may be lost",
				"waited", rxSettleMax, "last_avail", q.LastAvail, "used", q.Used)
			return
		}
		sleepCtx(ctx, rxSettleStep)
	}
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// noteQEMUStop records, when the agent meant to pick the switchover, that
// QEMU stopped the guest itself (a pass left less than its 1 ms threshold
// dirty before the agent decided): the tap was not quiesced, and a frame
// arriving in that instant can be dropped inside QEMU, where no counter
// sees it. Switchover's recovery of the held frame and the residue runs.
func (s *source) noteQEMUStop(pass int) {
	if !s.pcfg.AgentSwitchover || s.agentStopped {
		return
	}
	d := policy.Action{Kind: policy.KindNote, Reason: "QEMU stopped the guest itself before the agent's switchover " +
		"(a pass left under its 1 ms threshold dirty): the tap was not quiesced; a frame arriving at that instant " +
		"may be dropped inside QEMU, uncounted"}.Decision(time.Now().UTC(), pass)
	s.log.Warn("qemu stopped the guest itself; the tap was not quiesced")
	s.rec.update(true, func(m *api.Migration) { m.Decisions = append(m.Decisions, d) })
}

// apply carries out one policy action and records it as a decision.
func (s *source) apply(ctx context.Context, a policy.Action, pass int) error {
	d := a.Decision(time.Now().UTC(), pass)
	s.log.Info("policy decision", "action", d.Action, "value", d.Value, "pass", pass, "reason", d.Reason)
	s.rec.update(true, func(m *api.Migration) { m.Decisions = append(m.Decisions, d) })
	if a.Kind == policy.KindAbort {
		return fmt.Errorf("%w: %s", api.ErrMigration, a.Reason)
	}
	if a.Kind == policy.KindSwitchover || (a.Kind == policy.KindPostcopy && s.pcfg.AgentSwitchover) {
		return s.stopGuest(ctx, a)
	}
	if a.Kind == policy.KindBandwidth {
		s.bandwidth = a.Bandwidth
		s.gate.setRate(s.bandwidth)
		return nil
	}
	if a.Kind == policy.KindPostcopy {
		s.quietGuest(ctx, true)
	}
	if err := policy.Apply(ctx, s.cfg.Guest, a); err != nil {
		s.log.Warn("applying policy decision", "action", a.Kind, "err", err)
		return nil
	}
	if a.Kind == policy.KindPostcopy {
		// QEMU starts post-copy between two of its iterations: a write
		// held by the pace would hold it back.
		s.bandwidth = 0
		s.gate.setRate(0)
	}
	return nil
}
