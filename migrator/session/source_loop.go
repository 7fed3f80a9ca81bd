package session

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// loop watches QEMU, the policy and the destination until the guest runs
// at the destination (nil) or something fails.
func (s *source) loop(ctx context.Context, events <-chan qmpx.Event) error {
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	to := s.cfg.Request.To
	for !(s.phase == srcRunning && s.completed) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.conn.Context().Done():
			return fmt.Errorf("%w: connection to %s lost", api.ErrPeer, to)
		case <-s.cfg.Guest.Done():
			return fmt.Errorf("%w: source qemu exited during the migration", api.ErrQEMU)
		case c, ok := <-s.in:
			if !ok || c.err != nil {
				err := c.err
				if err == io.EOF || !ok {
					err = fmt.Errorf("closed")
				}
				s.in = nil
				return fmt.Errorf("%w: control stream from %s: %v", api.ErrPeer, to, err)
			}
			if err := s.onMessage(ctx, c.msg); err != nil {
				return err
			}
		case e, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if e.Name == qmpcmd.EventStop && s.stoppedAt.IsZero() {
				s.stoppedAt = time.Now()
			}
			if st := eventStatus(e); st != "" {
				s.log.Debug("migration event", "status", st)
				if err := s.onStatus(ctx, st, ""); err != nil {
					return err
				}
			}
			if e.Name == qmpcmd.EventMigrationPass {
				if err := s.sample(ctx); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := s.sample(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// onMessage handles a control message from the destination. Its Running
// (after Commit) starts the hand-off at once, in the background: in a
// post-copy migration the guest runs at the destination while QEMU still
// moves pages on its own streams, and its traffic must not wait for that.
func (s *source) onMessage(ctx context.Context, m any) error {
	to := s.cfg.Request.To
	switch m := m.(type) {
	case wire.Running:
		if s.phase < srcCommitted {
			return fmt.Errorf("%w: %s says running before commit", api.ErrPeer, to)
		}
		if !s.advance(srcRunning) {
			return nil // said twice
		}
		var paused time.Duration
		if !s.stoppedAt.IsZero() {
			paused = time.Since(s.stoppedAt)
			s.rec.update(true, func(m *api.Migration) { m.Paused = api.Duration(paused) })
		}
		s.log.Info("guest running at the destination; handing its traffic off", "postcopy", s.postcopy, "paused", paused)
		s.startHandoff(ctx, s.conn)
		return nil
	case wire.Abort:
		s.destAborted = true
		return fmt.Errorf("%w: %s aborted: %s", api.ErrPeer, to, m.Reason)
	case wire.HandoffDone:
		if s.phase == srcRunning {
			s.destStats = &m.Stats
			return nil
		}
	}
	return fmt.Errorf("%w: %s sent an unexpected %T", api.ErrPeer, to, m)
}

// sample reads query-migrate, updates the progress and lets the policy act.
func (s *source) sample(ctx context.Context) error {
	var raw []byte
	err := bounded(ctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		raw, err = queryMigrate(ctx, s.cfg.Guest)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		s.log.Warn("query-migrate", "err", err)
		return nil
	}
	smp, err := policy.ParseQueryMigrate(raw)
	if err != nil {
		s.log.Warn("parsing query-migrate", "err", err)
		return nil
	}
	smp.At = time.Now()
	s.rec.update(false, func(m *api.Migration) {
		m.Progress = s.progress(smp)
		// QEMU stops throttling, and reporting it, when the migration
		// ends: the record keeps the highest percentage seen.
		m.Throttled = max(m.Throttled, smp.ThrottlePct)
	})
	s.handoffStats(false)
	errDesc := ""
	if smp.Status == qmpcmd.MigrationFailed || smp.Status == qmpcmd.MigrationCancelled {
		if sum, err := policy.ParseSummary(raw); err == nil {
			errDesc = sum.Error
		}
	}
	if err := s.onStatus(ctx, smp.Status, errDesc); err != nil {
		return err
	}
	if s.phase >= srcCommitted || (smp.Status != qmpcmd.MigrationActive && smp.Status != qmpcmd.MigrationPostcopyActive) {
		return nil
	}
	for _, a := range s.pol.Observe(smp) {
		if err := s.apply(ctx, a, smp.Pass); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) progress(smp policy.Sample) api.Progress {
	p := api.Progress{
		Transferred: smp.Transferred, Remaining: smp.Remaining, Total: smp.Total,
		Rate: smp.Rate, DirtyRate: smp.DirtyRate, Bandwidth: s.bandwidth, Pass: smp.Pass,
		ExpectedDowntime: api.Duration(smp.ExpectedDowntime), Elapsed: api.Duration(smp.Elapsed),
	}
	if s.pcfg.AgentSwitchover && p.ExpectedDowntime <= api.Duration(time.Millisecond) {
		// QEMU shows its downtime-limit until it has a dirty rate: that
		// is 1 ms here, the agent applying the real target.
		p.ExpectedDowntime = api.Duration(s.pcfg.DowntimeTarget)
	}
	if smp.Total > 0 {
		p.Percent = 100 * float64(smp.Total-min(smp.Remaining, smp.Total)) / float64(smp.Total)
	}
	if smp.Status == qmpcmd.MigrationCompleted {
		p.Percent, p.Remaining = 100, 0
	}
	if smp.Rate > 0 {
		p.ETA = api.Duration(time.Duration(float64(smp.Remaining) / float64(smp.Rate) * float64(time.Second)))
	}
	return p
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
	if err := policy.Apply(ctx, s.cfg.Guest, a); err != nil {
		s.log.Warn("applying policy decision", "action", a.Kind, "err", err)
		return nil
	}
	if a.Kind == policy.KindBandwidth {
		s.bandwidth = a.Bandwidth
	}
	return nil
}

// onStatus reacts to QEMU's migration status, from an event or a sample;
// each transition is handled once.
func (s *source) onStatus(ctx context.Context, st, errDesc string) error {
	now := time.Now().UTC()
	switch st {
	case qmpcmd.MigrationActive:
		if len(s.rec.get().Phases) == 1 {
			s.rec.phase("precopy", now)
			s.rec.update(true, func(m *api.Migration) { m.State = api.MigrationActive })
		}
	case qmpcmd.MigrationPreSwitchover:
		if !s.advance(srcSwitchover) {
			return nil
		}
		s.noteQEMUStop(s.rec.get().Progress.Pass)
		s.rec.phase("switchover", now)
		s.rec.update(true, func(m *api.Migration) { m.State = api.MigrationSwitchover })
		err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
			return s.cfg.Handoff.Switchover(ctx, s.cfg.Spec)
		})
		s.handoffStats(true)
		if err != nil {
			return fmt.Errorf("%w: hand-off switchover: %w", api.ErrMigration, err)
		}
		if err := s.switchoverDelay(ctx); err != nil {
			return err
		}
		if err := s.cfg.Guest.Execute(ctx, qmpcmd.MigrateContinue, qmpcmd.Continue{State: qmpcmd.MigrationPreSwitchover}, nil); err != nil {
			return fmt.Errorf("%w: migrate-continue: %w", api.ErrQEMU, err)
		}
		s.log.Info("switchover: guest stopped, continuing")
	case qmpcmd.MigrationPostcopyActive:
		if s.postcopy {
			return nil
		}
		s.postcopy = true
		s.rec.phase("postcopy", now)
		s.rec.update(true, func(m *api.Migration) { m.State, m.Postcopy = api.MigrationPostcopy, true })
		s.log.Info("post-copy: the guest moves to the destination now")
		return s.commit()
	case qmpcmd.MigrationCompleted:
		if s.completed {
			return nil
		}
		s.completed = true
		if raw, err := queryMigrate(ctx, s.cfg.Guest); err == nil {
			if sum, err := policy.ParseSummary(raw); err == nil {
				s.rec.update(true, func(m *api.Migration) { sum.Fill(m) })
			}
		}
		s.log.Info("source qemu completed")
		return s.commit()
	case qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
		if errDesc == "" {
			_, errDesc, _ = migrateStatus(ctx, s.cfg.Guest)
		}
		return fmt.Errorf("%w: qemu migration %s: %s", api.ErrQEMU, st, errDesc)
	}
	return nil
}

// commit tells the destination to start the guest. From here on the
// source never resumes unless the destination positively aborts.
func (s *source) commit() error {
	if !s.advance(srcCommitted) {
		return nil
	}
	s.log.Info("commit sent")
	if err := wire.WriteMessage(s.ctl, wire.Commit{}); err != nil {
		return fmt.Errorf("%w: sending commit to %s: %w", api.ErrPeer, s.cfg.Request.To, err)
	}
	return nil
}
