package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
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
	if s.summary != nil {
		<-s.summary // it asks the source QEMU, bounded: before it quits
	}
	if err := bounded(ctx, 30*time.Second, s.cfg.Guest.Stop); err != nil {
		s.log.Warn("quitting source qemu", "err", err)
	}
	s.waitHandoffDone(ctx, conn)
	s.flushSettled = true
	s.handoffStats(true)
	s.recordWire()
	s.recordCodec() // QEMU has quit: every byte went through
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
	// The record shows when the failure was noticed, and the rollback's
	// length: the guest resumed, then the buffered frames given back.
	s.rec.phase("rollback", time.Now().UTC())
	ctx = context.WithoutCancel(ctx)
	g := s.cfg.Guest
	if err := ResumeHere(ctx, g, s.log); err != nil {
		s.log.Error("resuming the guest on the source", "err", err)
	}
	// The hand-off rolls back only now that the guest runs again: the
	// buffered frames go back into its tap in order.
	s.handoffRollback(ctx)
	if errors.Is(cause, api.ErrQEMU) && !s.destAborted {
		cause = s.destReason(ctx, cause) // the guest runs again meanwhile
	}
	if s.ctl != nil && !s.destAborted {
		if err := wire.WriteMessage(s.ctl, wire.Abort{Reason: truncate(cause.Error())}); err != nil {
			s.log.Debug("telling the destination to abort", "err", err)
		}
	}
	reason := cause.Error()
	if !guestAlive(g) {
		reason += " (source qemu gone)"
	}
	s.recordWire()
	return s.rec.finish(state, reason)
}

// recordWire records the bytes the migration's connection carried since
// it began, however it ends. Only that connection's counters count: a
// post-copy resumed, or the destination asked after a lost connection,
// may go over a new one, whose counters began elsewhere.
func (s *source) recordWire() {
	if s.conn0 == nil {
		return // never connected
	}
	sent, recv := s.conn0.Stats()
	s.rec.update(false, func(m *api.Migration) {
		m.WireBytes = (sent - s.sent0) + (recv - s.recv0)
	})
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

// destReason returns err, or with the destination's Abort if it comes
// within abortGrace and 2 s: a migration the destination refused (e.g. a page
// that did not match its name) fails here as QEMU's broken socket, and
// only the destination knows why.
func (s *source) destReason(ctx context.Context, err error) error {
	if s.in == nil {
		return err
	}
	// The destination itself waits up to abortGrace for the source's
	// Abort before it sends its own: wait longer, or both give up at once.
	t := time.NewTimer(abortGrace + 2*time.Second)
	defer t.Stop()
	for {
		select {
		case c, ok := <-s.in:
			if !ok || c.err != nil {
				return err
			}
			if m, ok := c.msg.(wire.Abort); ok {
				s.destAborted = true
				return fmt.Errorf("%w: %s aborted: %s (here: %v)", api.ErrPeer, s.cfg.Request.To, m.Reason, err)
			}
		case <-t.C:
			return err
		case <-ctx.Done():
			return err
		}
	}
}
