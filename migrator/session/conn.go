package session

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Stream is one bidirectional byte stream of a Conn with half-close:
// CloseWrite ends our direction (the peer reads EOF), Close ends both.
// *transport.Stream satisfies it.
type Stream interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// Conn is one authenticated agent-to-agent connection (a *transport.Conn
// through FromTransport; tests use an in-memory pair).
type Conn interface {
	// Peer is the verified host name of the other agent.
	Peer() string
	// RemoteAddr is the other agent's address (its QUIC UDP address).
	RemoteAddr() net.Addr
	// OpenStream opens a stream and writes its header.
	OpenStream(ctx context.Context, h wire.StreamHeader) (Stream, error)
	// OpenLane opens a stream on its own connection beside this one (a
	// TLS lane over TCP, for bulk data) and writes its header; the peer
	// accepts it like any stream.
	OpenLane(ctx context.Context, h wire.StreamHeader) (Stream, error)
	// AcceptStream waits for the peer's next stream and reads its header.
	AcceptStream(ctx context.Context) (Stream, wire.StreamHeader, error)
	// Context is done when the connection dies.
	Context() context.Context
	// Stats are the payload bytes sent and received on all streams.
	Stats() (sent, received uint64)
}

// halfCloser is a local connection that can end its write direction
// (*net.UnixConn, *net.TCPConn).
type halfCloser interface {
	CloseWrite() error
}

// pipeRead is the most one read of QEMU's socket takes (the gate may take
// less) when the stream does not read it itself: a page coder's stream
// (transport.Stream's ReadFrom reads as much at a time). io.Copy's 32 KiB
// cost a chunk, a TLS record and a system call per 32 KiB.
const pipeRead = 1 << 20

// pipe copies bytes both ways between a local connection (QEMU's socket)
// and a stream, passing each direction's end on as a half-close, until
// both directions are done or ctx ends. It returns the bytes carried each
// way and the first error other than a clean end. While g (may be nil) is
// held, nothing more is read from local.
func pipe(ctx context.Context, local net.Conn, s Stream, g *gate) (sent, received int64, err error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	fail := func(e error) {
		if e == nil || errors.Is(e, net.ErrClosed) {
			return
		}
		mu.Lock()
		if first == nil {
			first = e
		}
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			local.Close()
			s.Close()
		case <-done:
		}
	}()
	// half copies one direction into *n; its clean end is passed on with
	// closeWrite, an error ends both directions.
	half := func(dst io.Writer, src io.Reader, n *int64, closeWrite func() error, buf []byte) {
		defer wg.Done()
		var err error
		if *n, err = io.CopyBuffer(dst, src, buf); err != nil {
			fail(err)
			local.Close()
			s.Close()
			return
		}
		fail(closeWrite())
	}
	wg.Add(2)
	var buf []byte
	if _, ok := s.(io.ReaderFrom); !ok {
		buf = make([]byte, pipeRead)
	}
	go half(s, gatedReader{ctx: ctx, r: local, g: g}, &sent, s.CloseWrite, buf) // local -> stream
	go half(local, s, &received, func() error {                                 // stream -> local
		if hc, ok := local.(halfCloser); ok {
			return hc.CloseWrite()
		}
		return nil
	}, nil)
	wg.Wait()
	close(done)
	local.Close()
	s.Close()
	if ctx.Err() != nil && first == nil {
		first = ctx.Err()
	}
	return sent, received, first
}
