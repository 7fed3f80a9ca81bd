package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
	"github.com/quic-go/quic-go"
)

// Stream error codes sent with CancelRead/CancelWrite.
const (
	codeClosed   quic.StreamErrorCode = 0 // Close: we read no more
	codeCanceled quic.StreamErrorCode = 1 // Cancel or Pipe teardown
	codeBadHead  quic.StreamErrorCode = 2 // the stream header was refused
)

// Conn is an authenticated connection to a peer agent.
type Conn struct {
	qc            *quic.Conn
	binding       binding // of its lanes
	node          *Node   // for lanes
	peer          string
	log           *slog.Logger
	headerTimeout time.Duration

	// incoming holds the peer's streams with their headers read: QUIC
	// streams (taken by pump once AcceptStream is first called) and lanes.
	incoming chan *Stream
	pumpOnce sync.Once

	sent, received atomic.Uint64
}

func newConn(qc *quic.Conn, n *Node, peer string) *Conn {
	c := &Conn{qc: qc, binding: connBinding(qc), node: n, peer: peer, log: n.log.With("peer", peer), headerTimeout: n.cfg.IdleTimeout,
		incoming: make(chan *Stream, 16)}
	context.AfterFunc(qc.Context(), c.logEnd)
	return c
}

// logEnd says why the connection ended; with its round-trip estimates, as
// a silent peer is declared dead after the idle timeout or three probe
// timeouts, whichever is longer.
func (c *Conn) logEnd() {
	st := c.qc.ConnectionStats()
	c.log.Info("connection ended", "cause", context.Cause(c.qc.Context()),
		"srtt", st.SmoothedRTT, "rttvar", st.MeanDeviation, "latest_rtt", st.LatestRTT)
}

// Peer is the peer's host name, as its verified certificate names it.
func (c *Conn) Peer() string { return c.peer }

// RemoteAddr is the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// Context is done when the connection is gone: closed by either side, or
// the peer silent for the idle timeout. context.Cause tells why.
func (c *Conn) Context() context.Context { return c.qc.Context() }

// Stats returns the bytes read from and written to all streams of the
// connection so far, stream headers included.
func (c *Conn) Stats() (sent, received uint64) { return c.sent.Load(), c.received.Load() }

// CloseWithError closes the connection at once with an application error
// code and message the peer sees. Data not yet delivered is lost: end
// streams (and wait for the peer's answer) first.
func (c *Conn) CloseWithError(code uint64, msg string) error {
	return c.qc.CloseWithError(quic.ApplicationErrorCode(code), msg)
}

// OpenStream opens a stream and writes h on it. The peer only learns of the
// stream when h arrives.
func (c *Conn) OpenStream(ctx context.Context, h wire.StreamHeader) (*Stream, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("opening stream: %w", err)
	}
	qs, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening stream to %s: %w", c.peer, err)
	}
	s := &Stream{e: quicEnd{qs}, c: c, h: h}
	if err := wire.WriteHeader(s, h); err != nil {
		s.Cancel()
		return nil, fmt.Errorf("opening stream to %s: %w", c.peer, err)
	}
	return s, nil
}

// AcceptStream waits for the peer's next stream (a QUIC stream or a lane)
// and reads its header. Streams whose header is malformed or does not
// arrive within the idle timeout are logged and reset, and AcceptStream
// waits for the next one; it fails only when ctx ends or the connection is
// gone.
func (c *Conn) AcceptStream(ctx context.Context) (*Stream, wire.StreamHeader, error) {
	c.pumpOnce.Do(func() { go c.pump() })
	select {
	case s := <-c.incoming:
		return s, s.h, nil
	case <-ctx.Done():
		return nil, wire.StreamHeader{}, ctx.Err()
	case <-c.qc.Context().Done():
		return nil, wire.StreamHeader{}, fmt.Errorf("accepting stream from %s: %w", c.peer, context.Cause(c.qc.Context()))
	}
}

// pump accepts the connection's QUIC streams and queues them with their
// headers read, until the connection is gone.
func (c *Conn) pump() {
	ctx := c.qc.Context()
	for {
		qs, err := c.qc.AcceptStream(ctx)
		if err != nil {
			return
		}
		s := &Stream{e: quicEnd{qs}, c: c}
		h, err := c.readHeader(ctx, s)
		if err != nil {
			s.cancel(codeBadHead)
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("refused stream", "stream", qs.StreamID(), "err", err)
			continue
		}
		s.h = h
		select {
		case c.incoming <- s:
		case <-ctx.Done():
			s.Cancel()
			return
		}
	}
}

// readHeader reads s's header within the header timeout, or until ctx ends.
func (c *Conn) readHeader(ctx context.Context, s *Stream) (wire.StreamHeader, error) {
	s.SetReadDeadline(time.Now().Add(c.headerTimeout))
	stop := context.AfterFunc(ctx, func() { s.SetReadDeadline(time.Now()) })
	h, err := wire.ReadHeader(s)
	if !stop() {
		return h, ctx.Err()
	}
	s.SetReadDeadline(time.Time{})
	return h, err
}
