// Package qmpxtest is a fake QMP server on a unix socket for tests: it
// speaks the greeting and capabilities handshake, answers commands through
// a handler and emits events on demand.
package qmpxtest

import (
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Handler answers one command. A non-nil error becomes a QMP
// GenericError with the error's text.
type Handler func(cmd string, args json.RawMessage) (any, error)

// Server serves QMP to one client at a time, like QEMU.
type Server struct {
	Path string

	ln      net.Listener
	handler Handler

	mu    sync.Mutex
	conn  net.Conn
	enc   *json.Encoder
	early []string // events to send before the next capabilities reply
	wg    sync.WaitGroup
}

// EventBeforeHandshakeReply makes the next client's handshake race with an
// event, as QEMU's can (an event from another thread between leaving the
// negotiation mode and writing qmp_capabilities' reply): the event name
// goes out just before that reply.
func (s *Server) EventBeforeHandshakeReply(name string) {
	s.mu.Lock()
	s.early = append(s.early, name)
	s.mu.Unlock()
}

// NewServer listens on the unix socket path and serves clients with h.
func NewServer(path string, h Handler) (*Server, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	s := &Server{Path: path, ln: ln, handler: h}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.handle(c)
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	enc := json.NewEncoder(c)
	greeting := map[string]any{"QMP": map[string]any{
		"version":      map[string]any{"qemu": map[string]int{"major": 7, "minor": 2, "micro": 0}, "package": "qmpxtest"},
		"capabilities": []string{},
	}}
	s.mu.Lock()
	s.conn, s.enc = c, enc
	err := enc.Encode(greeting)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conn, s.enc = nil, nil
		s.mu.Unlock()
	}()
	if err != nil {
		return
	}
	dec := json.NewDecoder(c)
	for {
		var req struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
			ID        json.RawMessage `json:"id"`
		}
		if err := dec.Decode(&req); err != nil {
			return
		}
		if req.Execute == qmpcmd.QMPCapabilities {
			s.mu.Lock()
			if len(s.early) > 0 {
				enc.Encode(map[string]any{"event": s.early[0], "data": map[string]any{},
					"timestamp": map[string]int64{"seconds": time.Now().Unix(), "microseconds": 0}})
				s.early = s.early[1:]
				s.mu.Unlock()
				time.Sleep(50 * time.Millisecond) // the client reads the event alone
			} else {
				s.mu.Unlock()
			}
		}
		var resp map[string]any
		switch ret, err := s.answer(req.Execute, req.Arguments); {
		case err != nil:
			resp = map[string]any{"error": map[string]string{"class": "GenericError", "desc": err.Error()}}
		default:
			resp = map[string]any{"return": ret}
		}
		if len(req.ID) > 0 {
			resp["id"] = req.ID // as QEMU does
		}
		s.mu.Lock()
		err := enc.Encode(resp)
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// answer answers the handshake's commands itself and the rest with the
// Handler.
func (s *Server) answer(cmd string, args json.RawMessage) (any, error) {
	switch cmd {
	case qmpcmd.QMPCapabilities:
		return struct{}{}, nil
	case qmpcmd.QueryVersion:
		return map[string]any{"qemu": map[string]int{"major": 7, "minor": 2, "micro": 0}, "package": "qmpxtest"}, nil
	}
	ret, err := s.handler(cmd, args)
	if err == nil && ret == nil {
		ret = struct{}{}
	}
	return ret, err
}

// ErrNoClient is returned by Emit when no client is connected.
var ErrNoClient = errors.New("qmpxtest: no client connected")

// Emit sends an event to the connected client.
func (s *Server) Emit(name string, data any) error {
	now := time.Now()
	ev := map[string]any{
		"event":     name,
		"timestamp": map[string]int64{"seconds": now.Unix(), "microseconds": int64(now.Nanosecond() / 1000)},
	}
	if data != nil {
		ev["data"] = data
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc == nil {
		return ErrNoClient
	}
	return s.enc.Encode(ev)
}

// Connected reports whether a client is connected.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// DropClient closes the current client connection, as QEMU exiting would.
func (s *Server) DropClient() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
	}
}

// Close stops listening, drops the client and waits for the server to end.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.DropClient()
	s.wg.Wait()
	return err
}
