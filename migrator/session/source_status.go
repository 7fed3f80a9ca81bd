package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

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
		s.pause.mark(&s.pause.switchover, time.Now())
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
		s.pause.mark(&s.pause.continued, time.Now())
		s.log.Info("switchover: guest stopped, continuing")
	case qmpcmd.MigrationPostcopyActive:
		if s.postcopy {
			return nil
		}
		s.postcopy = true
		s.pause.mark(&s.pause.done, time.Now())
		// Post-copy goes unpaced (see stopGuest); a test's pace
		// (Debug.PostcopyRate) only once the guest runs there (Running).
		s.bandwidth = 0
		s.gate.setRate(0)
		s.rec.phase("postcopy", now)
		s.rec.update(true, func(m *api.Migration) { m.State, m.Postcopy = api.MigrationPostcopy, true })
		s.log.Info("post-copy: the guest moves to the destination now")
		return s.commit()
	case qmpcmd.MigrationCompleted:
		if s.completed {
			return nil
		}
		s.completed = true
		s.pause.mark(&s.pause.done, time.Now())
		s.summary = s.readSummary(ctx)
		s.log.Info("source qemu completed")
		return s.commit()
	case qmpcmd.MigrationPostcopyPaused:
		// QEMU saw the stream break before the agent did; or this is the
		// event of a break already recovered from, read late: ask.
		if now, _, err := migrateStatus(ctx, s.cfg.Guest); err == nil && now != st {
			return nil
		}
		return fmt.Errorf("%w: post-copy paused: the stream to %s broke", api.ErrPeer, s.cfg.Request.To)
	case qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
		if errDesc == "" {
			_, errDesc, _ = migrateStatus(ctx, s.cfg.Guest)
		}
		if errDesc == "" {
			errDesc = "QEMU gave no reason"
		}
		return fmt.Errorf("%w: qemu migration %s: %s", api.ErrQEMU, st, errDesc)
	}
	return nil
}

// commit tells the destination to start the guest. From here on the
// source never resumes unless the destination positively aborts.
func (s *source) commit() error {
	if !s.can(srcCommitted) {
		return nil
	}
	// Stored first: an agent that restarts after this must not resume
	// the guest here on its own. Not stored: not committed (rolled back).
	if err := s.rec.commit(s.cfg.Commit); err != nil {
		return fmt.Errorf("%w: %w", api.ErrMigration, err)
	}
	s.advance(srcCommitted)
	s.log.Info("commit sent")
	if err := wire.WriteMessage(s.ctl, wire.Commit{}); err != nil {
		return fmt.Errorf("%w: sending commit to %s: %w", api.ErrPeer, s.cfg.Request.To, err)
	}
	return nil
}

// Bounds of readSummary's polls.
const (
	summaryWait = time.Second
	summaryPoll = 5 * time.Millisecond
)

// readSummary puts QEMU's account of the completed migration (times, RAM)
// into the record, in the background: the commit must not wait for it.
// QEMU 7.2 says completed a moment before it computes its times, so it
// asks until total-time is set (bounded). The channel closes when done.
func (s *source) readSummary(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*summaryWait) // a QMP call may hang
		defer cancel()
		deadline := time.Now().Add(summaryWait)
		for {
			raw, err := queryMigrate(ctx, s.cfg.Guest)
			var sum policy.Summary
			if err == nil {
				sum, err = policy.ParseSummary(raw)
			}
			if err == nil && (sum.TotalTime > 0 || time.Now().After(deadline)) {
				s.rec.update(true, func(m *api.Migration) { sum.Fill(m) })
				return
			}
			if time.Now().After(deadline) {
				s.log.Warn("no summary of the migration from qemu", "err", err)
				return
			}
			time.Sleep(summaryPoll)
		}
	}()
	return done
}
