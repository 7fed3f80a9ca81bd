package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// moved finishes a migration whose guest runs at the destination: make
// sure the hand-off is done (it started on the destination's Running; if
// that message was lost, it starts here over conn), quit the source QEMU,
// record it completed.
func (s *source) moved(ctx context.Context, conn Conn) api.Migration {
	ctx = context.WithoutCancel(ctx)
	s.rec.phase("cleanup", time.Now().UTC())
	s.startHandoff(ctx, conn)
	s.waitHandoff()
	s.handoffStats(true)
	if err := bounded(ctx, 30*time.Second, s.cfg.Guest.Stop); err != nil {
		s.log.Warn("quitting source qemu", "err", err)
	}
	s.waitHandoffDone(ctx, conn)
	s.handoffStats(true)
	if conn != nil {
		sent, recv := conn.Stats()
		s.rec.update(false, func(m *api.Migration) {
			if conn == s.conn {
				m.WireBytes = (sent - s.sent0) + (recv - s.recv0)
			}
		})
	}
	s.log.Info("migration completed")
	return s.rec.finish(api.MigrationCompleted, "")
}

// rollback ends a migration that failed before Commit: the guest keeps
// (or resumes) running on the source and the destination is told.
func (s *source) rollback(ctx context.Context, cause error) api.Migration {
	state := api.MigrationFailed
	if errors.Is(cause, ErrCancelled) {
		state = api.MigrationCancelled
	}
	s.log.Warn("migration failed, rolling back", "err", cause)
	ctx = context.WithoutCancel(ctx)
	g := s.cfg.Guest
	alive := func() bool {
		select {
		case <-g.Done():
			return false
		default:
			return true
		}
	}
	if s.phase >= srcMigrating && alive() {
		bounded(ctx, 5*time.Second, func(ctx context.Context) error {
			return g.Execute(ctx, qmpcmd.MigrateCancel, nil, nil)
		})
		// QEMU leaves setup/active/pre-switchover/device/cancelling for
		// cancelled or failed (or completed, if the cancel came too late:
		// the destination has no Commit, so it never runs the guest).
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && alive() {
			st, _, err := migrateStatus(ctx, g)
			if err == nil && (st == qmpcmd.MigrationCancelled || st == qmpcmd.MigrationFailed || st == qmpcmd.MigrationCompleted || st == "") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if alive() {
		// QEMU restarts a guest that ran when its migration is cancelled
		// or fails; a guest stopped at completion must be resumed here.
		if rs, err := runState(ctx, g); err == nil && rs != qmpcmd.RunStateRunning {
			if err := g.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
				s.log.Error("resuming the guest on the source", "state", rs, "err", err)
			} else {
				s.log.Info("guest resumed on the source", "was", rs)
			}
		}
	}
	// The hand-off rolls back only now that the guest runs again: the
	// buffered frames go back into its tap in order.
	s.handoffRollback(ctx)
	if s.ctl != nil && !s.destAborted {
		if err := wire.WriteMessage(s.ctl, wire.Abort{Reason: truncate(cause.Error())}); err != nil {
			s.log.Debug("telling the destination to abort", "err", err)
		}
	}
	reason := cause.Error()
	if !alive() {
		reason += " (source qemu gone)"
	}
	return s.rec.finish(state, reason)
}

// rollbackWait bounds the wait for the hand-off's rollback: the buffered
// frames going back into the source's tap.
const rollbackWait = 2 * time.Minute

// handoffRollback rolls the hand-off back (after the guest was resumed on
// the source) and records its account.
// The guest runs meanwhile; the wait is for the report to count every
// returned frame (the replay is paced, ~10 s for a 10 s blackout).
func (s *source) handoffRollback(ctx context.Context) {
	if err := bounded(ctx, rollbackWait, func(ctx context.Context) error {
		return s.cfg.Handoff.Rollback(ctx, s.cfg.Spec)
	}); err != nil {
		s.log.Warn("hand-off rollback", "err", err)
	}
	s.handoffStats(true)
}

// resolve learns the outcome of a migration whose connection failed after
// Commit: the guest stays paused on the source while the destination is
// asked, for a bounded time; it resumes here only if the destination
// positively says the guest did not and will not run there.
func (s *source) resolve(ctx context.Context, cause error) (api.Migration, Outcome) {
	ctx = context.WithoutCancel(ctx)
	to := s.cfg.Request.To
	s.log.Warn("lost the destination after commit; asking it what happened", "err", cause)
	reason := ""
	if s.destAborted {
		reason = cause.Error()
	} else {
		deadline := time.Now().Add(s.cfg.OutcomeTimeout)
		for {
			rep, conn, err := s.askStatus(ctx)
			switch {
			case err != nil:
				s.log.Debug("asking the destination", "err", err)
			case rep.State == wire.StatusRunning:
				s.log.Info("the destination runs the guest")
				return s.moved(ctx, conn), Moved
			case rep.State == wire.StatusFailed:
				reason = fmt.Sprintf("%v; %s reports: %s", cause, to, rep.Reason)
			}
			if reason != "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
	}
	// A hand-off started on the destination's Running ends before anything
	// else touches the hand-off (Rollback below).
	s.waitHandoff()
	if reason == "" {
		m := s.rec.finish(api.MigrationFailed, fmt.Sprintf("outcome unknown: guest paused on source, check %s (%v)", to, cause))
		s.log.Error("migration outcome unknown; guest left paused on the source", "err", cause)
		return m, Unknown
	}
	// The destination has no guest: resume here.
	if err := s.cfg.Guest.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
		s.log.Error("resuming the guest on the source", "err", err)
		reason += "; resuming on the source failed: " + err.Error()
	}
	s.handoffRollback(ctx)
	s.log.Warn("destination aborted after commit; guest resumed on the source", "reason", reason)
	return s.rec.finish(api.MigrationFailed, reason), Stayed
}

// askStatus asks the destination, over a fresh control stream, what became
// of the session.
func (s *source) askStatus(ctx context.Context) (wire.StatusReply, Conn, error) {
	var rep wire.StatusReply
	var conn Conn
	err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		var err error
		if conn, err = s.cfg.Dial(ctx); err != nil {
			return err
		}
		st, err := conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: s.cfg.ID})
		if err != nil {
			return err
		}
		defer st.Close()
		stop := context.AfterFunc(ctx, func() { st.Close() })
		defer stop()
		if err := wire.WriteMessage(st, wire.StatusRequest{ID: s.cfg.ID}); err != nil {
			return err
		}
		m, err := wire.ReadMessage(st)
		if err != nil {
			return err
		}
		r, ok := m.(wire.StatusReply)
		if !ok || r.ID != s.cfg.ID {
			return fmt.Errorf("unexpected answer %T to a status request", m)
		}
		rep = r
		return nil
	})
	return rep, conn, err
}

func truncate(s string) string {
	if len(s) > wire.MaxReason {
		return s[:wire.MaxReason]
	}
	return s
}
