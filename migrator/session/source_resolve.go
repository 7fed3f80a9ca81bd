package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

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
		// Not an end: the agent keeps asking (and the operator may
		// resolve it), with the guest paused here meanwhile.
		s.recordWire()
		s.rec.update(true, func(m *api.Migration) {
			m.State, m.Reason = api.MigrationUnknown, fmt.Sprintf("outcome unknown: guest paused on the source; %s not answering (%v)", to, cause)
		})
		s.log.Error("migration outcome unknown; guest left paused on the source", "err", cause)
		return s.rec.get(), Unknown
	}
	// The destination has no guest: resume here.
	if err := cont(ctx, s.cfg.Guest); err != nil {
		s.log.Error("resuming the guest on the source", "err", err)
		reason += "; resuming on the source failed: " + err.Error()
	}
	s.handoffRollback(ctx)
	s.log.Warn("destination aborted after commit; guest resumed on the source", "reason", reason)
	s.recordWire()
	return s.rec.finish(api.MigrationFailed, reason), Stayed
}

// askStatus asks the destination, over a fresh control stream, what became
// of the session.
func (s *source) askStatus(ctx context.Context) (wire.StatusReply, Conn, error) {
	return AskStatus(ctx, s.cfg.Dial, s.cfg.ID)
}

// AskStatus asks the destination that dial reaches, over a fresh control
// stream, what became of session id (10 s at most), and returns its answer
// and the connection it came on.
func AskStatus(ctx context.Context, dial func(context.Context) (Conn, error), id string) (wire.StatusReply, Conn, error) {
	var rep wire.StatusReply
	var conn Conn
	err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		var err error
		if conn, err = dial(ctx); err != nil {
			return err
		}
		st, err := conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: id})
		if err != nil {
			return err
		}
		defer st.Close()
		stop := context.AfterFunc(ctx, func() { st.Close() })
		defer stop()
		if err := wire.WriteMessage(st, wire.StatusRequest{ID: id}); err != nil {
			return err
		}
		m, err := wire.ReadMessage(st)
		if err != nil {
			return err
		}
		r, ok := m.(wire.StatusReply)
		if !ok || r.ID != id {
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
