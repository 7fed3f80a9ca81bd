package session

import (
	"context"
	"net"

	"github.com/nfhandoff/nfhandoff/migrator/transport"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// FromTransport adapts a QUIC connection to Conn. Adapting the same
// connection twice gives equal values.
func FromTransport(c *transport.Conn) Conn { return tconn{c} }

type tconn struct{ c *transport.Conn }

func (t tconn) Peer() string                   { return t.c.Peer() }
func (t tconn) RemoteAddr() net.Addr           { return t.c.RemoteAddr() }
func (t tconn) Context() context.Context       { return t.c.Context() }
func (t tconn) Stats() (sent, received uint64) { return t.c.Stats() }

func (t tconn) OpenStream(ctx context.Context, h wire.StreamHeader) (Stream, error) {
	s, err := t.c.OpenStream(ctx, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t tconn) OpenLane(ctx context.Context, h wire.StreamHeader) (Stream, error) {
	s, err := t.c.OpenLane(ctx, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t tconn) AcceptStream(ctx context.Context) (Stream, wire.StreamHeader, error) {
	s, h, err := t.c.AcceptStream(ctx)
	if err != nil {
		return nil, h, err
	}
	return s, h, nil
}
