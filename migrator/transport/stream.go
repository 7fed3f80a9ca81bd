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
	qs *quic.Stream
	c  *Conn
	h  wire.StreamHeader

	sent, received atomic.Uint64
}

// Header is the stream's header (written by OpenStream, read by AcceptStream).
func (s *Stream) Header() wire.StreamHeader { return s.h }

// Read reads stream data; io.EOF after the peer's CloseWrite. A stream the
// peer canceled gives a *quic.StreamError.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.qs.Read(p)
	s.received.Add(uint64(n))
	s.c.received.Add(uint64(n))
	return n, err
}

// Write writes stream data. It blocks while flow control does not allow
// sending (the peer does not read).
func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.qs.Write(p)
	s.sent.Add(uint64(n))
	s.c.sent.Add(uint64(n))
	return n, err
}

// CloseWrite half-closes the stream: FIN after the data already written.
// Reading goes on.
func (s *Stream) CloseWrite() error { return s.qs.Close() }

// Close closes both directions: FIN after the data already written, and
// the peer is told we read no more.
func (s *Stream) Close() error {
	s.qs.CancelRead(codeClosed)
	return s.qs.Close()
}

// Cancel aborts both directions, discarding unsent and unread data; the
// peer's reads and writes fail.
func (s *Stream) Cancel() { s.cancel(codeCanceled) }

func (s *Stream) cancel(code quic.StreamErrorCode) {
	s.qs.CancelRead(code)
	s.qs.CancelWrite(code)
}

// Stats returns the bytes written and read on this stream (its header included).
func (s *Stream) Stats() (sent, received uint64) { return s.sent.Load(), s.received.Load() }

// SetDeadline, SetReadDeadline and SetWriteDeadline work as for net.Conn.
func (s *Stream) SetDeadline(t time.Time) error      { return s.qs.SetDeadline(t) }
func (s *Stream) SetReadDeadline(t time.Time) error  { return s.qs.SetReadDeadline(t) }
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.qs.SetWriteDeadline(t) }
