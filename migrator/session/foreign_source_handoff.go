package session

// The source's hand-off steps in a foreign guest's migration (see
// RunForeignSource) and how its switchover is asked for and recorded.

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/engine"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// migration is what the engine is asked to run. With a hand-off that can
// quiesce the guest's tap, the switchover is the agent's (the guest
// stopped once its traffic is buffered and the tap drained); else the
// engine's.
func (f *foreignSource) migration(destURI, socket string, stopped func(engine.Stop)) engine.Migration {
	m := engine.Migration{Domain: f.cfg.Spec.Name, DestURI: destURI, Socket: socket,
		Bandwidth: uint64(max(f.cfg.Request.Bandwidth, 0)), Stopped: stopped}
	if q, ok := f.cfg.Handoff.(handoff.Quiescer); ok {
		// The whole target, not the target less the rest of the pause
		// as for the agent's own moves: under libvirt the rest (its
		// finish at the destination, the resume; 30-60 ms measured on
		// 2026-12-07) takes most of a 50 ms target, and a smaller budget
		// for the pages waits for a later pass, where a guest that
		// dirties little meets QEMU's own 1 ms limit first and QEMU stops
		// it unquiesced (tried: 1 move of 5 so).
		m.Target = time.Duration(f.cfg.Request.DowntimeTarget)
		m.Quiesce = func(ctx context.Context) error {
			return bounded(ctx, quiesceTimeout, func(ctx context.Context) error { return q.Quiesce(ctx, f.cfg.Spec) })
		}
	}
	return m
}

// notePause records, when the guest's pause ran over the downtime
// target, why: the pages left at the stop (their time at the rate the
// engine measured, when the agent stopped it) and the rest.
func (f *foreignSource) notePause(at time.Time, paused time.Duration) {
	target := time.Duration(f.cfg.Request.DowntimeTarget)
	if paused <= target {
		return
	}
	why := "the engine's stop seen only at the migration's end"
	var pages time.Duration
	pass := 0
	st := f.stop.Load()
	if st != nil && !st.ByAgent {
		why = "the engine's QEMU stopped the guest itself (its own downtime estimate)"
	}
	if st != nil && st.ByAgent && st.Rate > 0 {
		pages = time.Duration(float64(st.Remaining) / float64(st.Rate) * float64(time.Second))
		why = fmt.Sprintf("the pages left at the agent's suspend about %v at the rate the engine measured", pages.Round(100*time.Microsecond))
		pass = st.Pass
	}
	fixed := max(paused-pages, 0)
	d := policy.Action{Kind: policy.KindNote, Reason: fmt.Sprintf(
		"guest paused %v, over the downtime target %v: %s; the rest %v (the engine's finish at the destination, the resume)",
		paused.Round(100*time.Microsecond), target, why, fixed.Round(100*time.Microsecond))}.Decision(at, pass)
	f.log.Warn("guest paused over the downtime target", "paused", paused, "target", target, "pages", pages, "rest", fixed)
	f.rec.update(true, func(m *api.Migration) { m.Decisions = append(m.Decisions, d) })
}

// noteStop records how the guest stopped, as the agent's own migrations'
// decisions are.
func (f *foreignSource) noteStop(at time.Time, st engine.Stop) {
	f.stop.Store(&st)
	a := policy.Action{Kind: policy.KindNote, Reason: "the engine's QEMU stopped the guest itself: the tap was not " +
		"quiesced; a frame arriving at that instant may be dropped inside QEMU, uncounted"}
	if st.ByAgent {
		a = policy.Action{Kind: policy.KindSwitchover, Reason: fmt.Sprintf("%.1f MiB left at %.0f MiB/s fit the %v target",
			float64(st.Remaining)/(1<<20), float64(st.Rate)/(1<<20), time.Duration(f.cfg.Request.DowntimeTarget))}
		if !st.Fits {
			a.Reason = fmt.Sprintf("pass %d, the last the agent waits for: %.1f MiB left at %.0f MiB/s do not fit the %v target",
				st.Pass, float64(st.Remaining)/(1<<20), float64(st.Rate)/(1<<20), time.Duration(f.cfg.Request.DowntimeTarget))
		}
	}
	d := a.Decision(at, st.Pass)
	f.log.Info("switchover", "by_agent", st.ByAgent, "reason", d.Reason)
	f.rec.update(true, func(m *api.Migration) { m.Decisions = append(m.Decisions, d) })
}

// switchover starts BUFFER, once.
func (f *foreignSource) switchover(ctx context.Context) {
	if !f.begun || f.switched.Swap(true) {
		return
	}
	f.stoppedAt.Store(time.Now().UnixNano())
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error { return f.cfg.Handoff.Switchover(ctx, f.cfg.Spec) }); err != nil {
		f.log.Warn("hand-off switchover", "err", err)
	}
	f.log.Info("hand-off: guest stopped by the engine, buffering")
}

// resume sends the flush: FORWARD, the buffered frames to the destination.
func (f *foreignSource) resume(ctx context.Context) {
	var flush Stream
	err := bounded(ctx, flushOpenTimeout, func(ctx context.Context) error {
		var err error
		flush, err = f.cfg.Conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindFlush, Session: f.cfg.ID})
		return err
	})
	if err != nil {
		f.log.Warn("opening flush stream", "err", err)
		flush = nil
	}
	if err := bounded(ctx, resumedTimeout, func(ctx context.Context) error {
		return f.cfg.Handoff.Resumed(ctx, f.cfg.Spec, flush)
	}); err != nil {
		f.log.Warn("hand-off resumed", "err", err)
	}
	if flush != nil {
		flush.CloseWrite()
	}
}

// rollback (the engine's migration failed: the guest runs here) tells the
// destination and gives the buffered frames back to the tap.
func (f *foreignSource) rollback(ctx context.Context, cause error) {
	ctx = context.WithoutCancel(ctx)
	f.rec.phase("rollback", time.Now().UTC())
	if f.ctl != nil {
		wire.WriteMessage(f.ctl, wire.Abort{Reason: truncate(cause.Error())})
		f.ctl.CloseWrite()
	}
	if f.begun {
		if err := bounded(ctx, rollbackWait, func(ctx context.Context) error { return f.cfg.Handoff.Rollback(ctx, f.cfg.Spec) }); err != nil {
			f.log.Warn("hand-off rollback", "err", err)
		}
	}
	f.recordStats()
	f.log.Warn("foreign migration failed: the guest stays here", "err", cause)
}

// recordStats copies both ends' hand-off accounts and the relay's bytes
// into the record.
func (f *foreignSource) recordStats() {
	f.rec.update(true, func(m *api.Migration) {
		m.WireBytes = uint64(f.relayed.Load())
		if !f.begun {
			return
		}
		rep := handoffReport(f.cfg.Handoff.Stats(f.cfg.Spec), f.destStats, f.settled)
		m.Handoff = &rep
	})
}
