package transport

import (
	"sync/atomic"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
	"github.com/quic-go/quic-go"
)

// Stream is one bidirectional stream of a Conn, counting its bytes.
//
// Close semantics (they differ from quic-go's): CloseWrite sends FIN after
// the data written so far (the peer reads it, then io.EOF); Close also stops
// reading (the peer's further writes fail); Cancel aborts both directions at
// once, discarding data not yet delivered. A stream is finished, and stops
// counting against the peer's stream limit, only when both directions are:
// ours closed (CloseWrite, Close or Cancel) and theirs read to io.EOF (or
// stopped with Close or Cancel).
type Stream struct {
	e end
	c *Conn
	h wire.StreamHeader

	sent, received atomic.Uint64
}

// end is what carries a stream: a QUIC stream of the connection, or a
// lane (one TLS connection over TCP, see OpenLane).
type end interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	closeWrite() error // FIN after the data written
	close() error      // FIN, and read no more
	abort(code quic.StreamErrorCode)
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Header is the stream's header (written by OpenStream, read by AcceptStream).
func (s *Stream) Header() wire.StreamHeader { return s.h }

// Read reads stream data; io.EOF after the peer's CloseWrite. A stream the
// peer canceled gives a *quic.StreamError (a lane: a connection reset).
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.e.Read(p)
	s.received.Add(uint64(n))
	s.c.received.Add(uint64(n))
	return n, err
}

// Write writes stream data. It blocks while flow control does not allow
// sending (the peer does not read).
func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.e.Write(p)
	s.sent.Add(uint64(n))
	s.c.sent.Add(uint64(n))
	return n, err
}

// CloseWrite half-closes the stream: FIN after the data already written.
// Reading goes on.
func (s *Stream) CloseWrite() error { return s.e.closeWrite() }

// Close closes both directions: FIN after the data already written, and
// the peer is told we read no more.
func (s *Stream) Close() error { return s.e.close() }

// Cancel aborts both directions, discarding unsent and unread data; the
// peer's reads and writes fail.
func (s *Stream) Cancel() { s.cancel(codeCanceled) }

func (s *Stream) cancel(code quic.StreamErrorCode) { s.e.abort(code) }

// Stats returns the bytes written and read on this stream (its header included).
func (s *Stream) Stats() (sent, received uint64) { return s.sent.Load(), s.received.Load() }

// SetDeadline, SetReadDeadline and SetWriteDeadline work as for net.Conn.
func (s *Stream) SetDeadline(t time.Time) error      { return s.e.SetDeadline(t) }
func (s *Stream) SetReadDeadline(t time.Time) error  { return s.e.SetReadDeadline(t) }
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.e.SetWriteDeadline(t) }

// quicEnd is a stream of the QUIC connection.
type quicEnd struct{ *quic.Stream }

func (q quicEnd) closeWrite() error { return q.Stream.Close() }

func (q quicEnd) close() error {
	q.CancelRead(codeClosed)
	return q.Stream.Close()
}

func (q quicEnd) abort(code quic.StreamErrorCode) {
	q.CancelRead(code)
	q.CancelWrite(code)
}
