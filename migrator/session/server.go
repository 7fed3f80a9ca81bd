package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/pagecode"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Server is the destination side of an agent: it serves the streams of
// accepted connections, one destination session per control Hello.
type Server struct {
	cfg DestConfig
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*dest
	late     map[string]chan Stream // arrivals from before a restart, waiting for their flush (Arrived)
	// Post-copies under way here by session, which a Recover may resume:
	// the sessions' own and those resumed after a restart (ResumePostcopy).
	postcopies map[string]*incomingPostcopy
	resumed    int // of those, the ones ResumePostcopy runs
	serving    map[Conn]bool
	foreign    map[string]*foreignDest // foreign guests' arrivals (Hello.Engine) by session
	wg         sync.WaitGroup
	// stores are the page coders' content stores of the sessions here,
	// one per gang, bounded in total.
	stores *pagecode.Stores
}

// NewServer returns a destination server.
func NewServer(cfg DestConfig) *Server {
	cfg.defaults()
	return &Server{cfg: cfg, log: cfg.Logger, sessions: make(map[string]*dest), late: make(map[string]chan Stream),
		postcopies: make(map[string]*incomingPostcopy), serving: make(map[Conn]bool), foreign: make(map[string]*foreignDest), stores: pagecode.NewStores(0)}
}

// Active is the number of destination sessions under way, with the
// hand-offs of arrivals from before a restart (Arrived).
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) + len(s.late) + s.resumed + len(s.foreign)
}

// Wait waits for every session to end.
func (s *Server) Wait() { s.wg.Wait() }

// Serve accepts c's streams until c dies or ctx ends. Serving a connection
// already served returns at once.
func (s *Server) Serve(ctx context.Context, c Conn) {
	s.mu.Lock()
	if s.serving[c] {
		s.mu.Unlock()
		return
	}
	s.serving[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.serving, c)
		s.mu.Unlock()
	}()
	for {
		st, h, err := c.AcceptStream(ctx)
		if err != nil {
			if ctx.Err() == nil && c.Context().Err() == nil {
				s.log.Warn("accepting stream", "peer", c.Peer(), "err", err)
			}
			return
		}
		go s.dispatch(ctx, c, st, h)
	}
}

func (s *Server) dispatch(ctx context.Context, c Conn, st Stream, h wire.StreamHeader) {
	switch h.Kind {
	case wire.KindControl:
		s.control(ctx, c, st, h)
		return
	case wire.KindQEMU, wire.KindQEMUCoded, wire.KindFlush:
		s.mu.Lock()
		d := s.sessions[h.Session]
		pc := s.postcopies[h.Session]
		fd := s.foreign[h.Session]
		s.mu.Unlock()
		if fd != nil && fd.conn == c {
			fd.stream(ctx, st, h)
			return
		}
		if h.Kind == wire.KindQEMU && pc != nil && pc.takeChannel(c, h, st) {
			return
		}
		if d != nil && (d.conn == c || pc != nil && pc.resumedOn(c)) {
			if h.Kind != wire.KindFlush {
				d.chans <- channel{h.Channel, st, h.Kind == wire.KindQEMUCoded}
			} else {
				select {
				case d.flush <- st:
				default:
					st.Close()
				}
			}
			return
		}
		if h.Kind == wire.KindFlush {
			if s.lateFlush(h.Session, st) {
				return // the arrival closes it
			}
			// A flush after the session ended (e.g. on a new connection):
			// nothing holds packets for it any more.
			s.log.Debug("flush stream for no session", "session", h.Session)
		} else {
			s.log.Warn("qemu stream for no session", "session", h.Session, "channel", h.Channel, "peer", c.Peer())
		}
	}
	st.Close()
}

// control handles a new control stream: a Hello, a status request or a
// post-copy's Recover.
func (s *Server) control(ctx context.Context, c Conn, st Stream, h wire.StreamHeader) {
	var m any
	err := bounded(ctx, 30*time.Second, func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { st.Close() })
		defer stop()
		var err error
		m, err = wire.ReadMessage(st)
		return err
	})
	if err != nil {
		s.log.Warn("reading the first control message", "peer", c.Peer(), "session", h.Session, "err", err)
		st.Close()
		return
	}
	switch m := m.(type) {
	case wire.Hello:
		if m.ID != h.Session {
			s.refuse(st, fmt.Sprintf("hello for %s on a stream of session %s", m.ID, h.Session))
			return
		}
		if m.Engine != "" {
			s.startForeign(s.cfg.Context, c, st, m)
			return
		}
		s.start(s.cfg.Context, c, st, m)
	case wire.StatusRequest:
		defer st.Close()
		rep := s.status(m.ID)
		s.log.Info("status request", "session", m.ID, "peer", c.Peer(), "state", rep.State)
		if err := wire.WriteMessage(st, rep); err != nil {
			s.log.Warn("answering a status request", "err", err)
		}
		st.CloseWrite()
	case wire.Recover:
		s.mu.Lock()
		pc := s.postcopies[m.ID]
		s.mu.Unlock()
		switch {
		case m.ID != h.Session:
			s.refuse(st, fmt.Sprintf("recover for %s on a stream of session %s", m.ID, h.Session))
		case pc == nil:
			s.refuse(st, "no post-copy of session "+m.ID+" under way here")
		case !pc.offer(recoverReq{conn: c, ctl: st, msg: m}):
			s.refuse(st, "a recovery of session "+m.ID+" is under way already")
		}
	default:
		s.refuse(st, fmt.Sprintf("unexpected %T on a new control stream", m))
	}
}

func (s *Server) addPostcopy(id string, pc *incomingPostcopy) {
	s.mu.Lock()
	s.postcopies[id] = pc
	s.mu.Unlock()
}

func (s *Server) removePostcopy(id string, pc *incomingPostcopy) {
	s.mu.Lock()
	s.removePostcopyLocked(id, pc)
	s.mu.Unlock()
}

func (s *Server) removePostcopyLocked(id string, pc *incomingPostcopy) {
	if s.postcopies[id] == pc {
		delete(s.postcopies, id)
	}
}

// ResumePostcopy takes over incoming post-copy id of spec, whose guest g
// (in dir) a previous run of the agent left running here (prior: its
// stored account of the hand-off): the stream broke
// with that run, and the source, still holding the pages g lacks, comes
// back with a Recover. done gets the outcome: nil once QEMU completed it.
// The stopping agent's cancel leaves it to the next run again.
func (s *Server) ResumePostcopy(spec api.VMSpec, id, source string, prior *api.HandoffStats, g Guest, dir string, done func(error)) {
	ctx := s.cfg.Context
	log := s.log.With("migration", id, "vm", spec.Name, "from", source)
	pc := newIncomingPostcopy(ctx, id, source, spec, s.cfg.Handoff, g, dir, nil, s.cfg.Poll, log)
	pc.prior, pc.takenOver = prior, true
	if pc.prior == nil {
		pc.prior = &api.HandoffStats{}
	}
	s.mu.Lock()
	s.postcopies[id] = pc
	s.resumed++
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := pc.wait(ctx)
		if err == nil {
			if ctl := pc.control(); ctl != nil {
				// The source waits for an account: this run has none of
				// the hand-off, which ended with the previous one.
				wire.WriteMessage(ctl, wire.HandoffDone{Stats: s.cfg.Handoff.Stats(spec)})
			}
		}
		pc.close()
		s.mu.Lock()
		s.removePostcopyLocked(id, pc)
		s.resumed--
		s.mu.Unlock()
		done(err)
	}()
	log.Warn("incoming post-copy left by the previous run: waiting for the source to resume it")
}

func (s *Server) refuse(st Stream, reason string) {
	s.log.Warn("control stream refused", "reason", reason)
	wire.WriteMessage(st, wire.Abort{Reason: truncate(reason)})
	st.CloseWrite()
	st.Close()
}

// status answers a status request from a live session or a stored record.
func (s *Server) status(id string) wire.StatusReply {
	s.mu.Lock()
	d := s.sessions[id]
	s.mu.Unlock()
	if d != nil {
		p, reason := d.state()
		return wire.StatusReply{ID: id, State: p.status(), Reason: truncate(reason)}
	}
	m, ok := s.cfg.Agent.Lookup(id)
	if !ok || m.Role != "destination" {
		return wire.StatusReply{ID: id, State: wire.StatusUnknown}
	}
	switch m.State {
	case api.MigrationCompleted, api.MigrationPostcopy:
		return wire.StatusReply{ID: id, State: wire.StatusRunning}
	case api.MigrationFailed, api.MigrationCancelled:
		if m.Postcopy {
			return wire.StatusReply{ID: id, State: wire.StatusRunning, Reason: truncate(m.Reason)}
		}
		return wire.StatusReply{ID: id, State: wire.StatusFailed, Reason: truncate(m.Reason)}
	}
	return wire.StatusReply{ID: id, State: wire.StatusPending}
}

// taken says why session id cannot start here ("" if it can): one of
// that ID is under way or recorded. Called with s.mu held.
func (s *Server) taken(id string) string {
	if _, dup := s.sessions[id]; dup {
		return "session " + id + " already under way here"
	}
	if _, dup := s.foreign[id]; dup {
		return "session " + id + " already under way here"
	}
	if _, old := s.cfg.Agent.Lookup(id); old {
		return "session " + id + " already recorded here"
	}
	return ""
}

// start registers and runs a destination session.
func (s *Server) start(ctx context.Context, c Conn, st Stream, h wire.Hello) {
	s.mu.Lock()
	if reason := s.taken(h.ID); reason != "" {
		s.mu.Unlock()
		s.refuse(st, reason)
		return
	}
	d := newDest(s, c, st, h)
	s.sessions[h.ID] = d
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, h.ID)
		s.mu.Unlock()
		s.wg.Done()
	}()
	d.run(ctx)
}
