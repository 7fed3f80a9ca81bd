package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// arrival is an incoming migration whose guest runs here although its
// session died with a previous run of the agent: the source still sends
// its flush once it hears (status request) that the guest runs here.
type arrival struct {
	spec  api.VMSpec
	flush chan Stream // capacity 1
}

// Arrived takes over the hand-off of incoming migration id, whose guest
// (spec) ran here before the agent restarted; the dataplane still holds its
// traffic (HOLD). A flush stream the source opens for id is injected and
// the HOLD queue released after it, in order, as a live session does; if
// none comes within FlushTimeout the queue is released alone. done gets
// this end's account of the hand-off afterwards. Call it before Serve.
func (s *Server) Arrived(spec api.VMSpec, id string, done func(api.HandoffStats)) {
	a := &arrival{spec: spec, flush: make(chan Stream, 1)}
	s.mu.Lock()
	s.late[id] = a
	s.mu.Unlock()
	log := s.log.With("migration", id, "vm", spec.Name)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := s.cfg.Context
		var flush Stream
		t := time.NewTimer(s.cfg.FlushTimeout)
		select {
		case flush = <-a.flush:
		case <-t.C:
			log.Warn("no flush stream from the source after the restart", "waited", s.cfg.FlushTimeout)
		case <-ctx.Done():
		}
		t.Stop()
		s.mu.Lock()
		delete(s.late, id)
		s.mu.Unlock()
		err := bounded(context.WithoutCancel(ctx), 30*time.Second, func(ctx context.Context) error {
			return s.cfg.Handoff.Flushed(ctx, spec, flush)
		})
		if err != nil && !errors.Is(err, io.EOF) {
			log.Warn("hand-off flushed after the restart", "err", err)
		}
		if flush != nil {
			flush.Close()
		}
		log.Info("hand-off after the restart: hold released", "flush", flush != nil)
		done(s.cfg.Handoff.Stats(spec))
	}()
}

// lateFlush hands flush to the arrival waiting for it, if any.
func (s *Server) lateFlush(id string, flush Stream) bool {
	s.mu.Lock()
	a := s.late[id]
	s.mu.Unlock()
	if a == nil {
		return false
	}
	select {
	case a.flush <- flush:
		return true
	default:
		return false
	}
}
