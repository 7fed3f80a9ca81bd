package session

import (
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Arrived takes over the hand-off of incoming migration id, whose guest
// (spec) ran here before the agent restarted; the dataplane still holds its
// traffic (HOLD). A flush stream the source opens for id is injected and
// the HOLD queue released after it, in order, as a live session does; if
// none comes within FlushTimeout the queue is released alone. done gets
// this end's account of the hand-off afterwards. Call it before Serve.
func (s *Server) Arrived(spec api.VMSpec, id string, done func(api.HandoffStats)) {
	// The source sends its flush once it hears (status request) that the
	// guest runs here; lateFlush passes it on.
	in := make(chan Stream, 1)
	s.mu.Lock()
	s.late[id] = in
	s.mu.Unlock()
	log := s.log.With("migration", id, "vm", spec.Name)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := s.cfg.Context
		var flush Stream
		t := time.NewTimer(s.cfg.FlushTimeout)
		select {
		case flush = <-in:
		case <-t.C:
			log.Warn("no flush stream from the source after the restart", "waited", s.cfg.FlushTimeout)
		case <-ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
		delete(s.late, id)
		s.mu.Unlock()
		release(ctx, s.cfg.Handoff, spec, flush, log)
		done(s.cfg.Handoff.Stats(spec))
	}()
}

// lateFlush hands flush to the arrival waiting for it, if any.
func (s *Server) lateFlush(id string, flush Stream) bool {
	s.mu.Lock()
	in := s.late[id]
	s.mu.Unlock()
	if in == nil {
		return false
	}
	select {
	case in <- flush:
		return true
	default:
		return false
	}
}
