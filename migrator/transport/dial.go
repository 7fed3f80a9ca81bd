package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/quic-go/quic-go"
)

// slot holds the pooled connection to one peer; sem serialises dials to it.
type slot struct {
	sem  chan struct{}
	conn *Conn
}

// Dial returns the connection to host, reusing the pooled one while it is
// alive. A new connection is made to host's address in the peers file
// (read now); the peer must present a certificate from our CA naming host,
// and must accept ours. Errors are *PeerError wrapping ErrUnknownPeer,
// ErrPeerAuth or ErrPeerUnreachable (and ctx's error when ctx ended).
func (n *Node) Dial(ctx context.Context, host string) (*Conn, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	s := n.pool[host]
	if s == nil {
		s = &slot{sem: make(chan struct{}, 1)}
		n.pool[host] = s
	}
	n.mu.Unlock()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &PeerError{Host: host, Kind: ErrPeerUnreachable, Msg: "not dialed", Err: ctx.Err()}
	}
	defer func() { <-s.sem }()

	n.mu.Lock()
	if c := s.conn; c != nil && c.Context().Err() == nil {
		n.mu.Unlock()
		return c, nil
	}
	s.conn = nil
	n.mu.Unlock()

	c, err := n.dial(ctx, host)
	if err != nil {
		n.log.Warn("dialing peer failed", "peer", host, "err", err)
		return nil, err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.CloseWithError(0, "agent shutting down")
		return nil, ErrClosed
	}
	s.conn = c
	n.mu.Unlock()
	context.AfterFunc(c.Context(), func() {
		n.mu.Lock()
		if s.conn == c {
			s.conn = nil
		}
		n.mu.Unlock()
		n.log.Info("peer connection ended", "peer", host, "remote", c.RemoteAddr(), "reason", context.Cause(c.Context()))
	})
	return c, nil
}

func (n *Node) dial(ctx context.Context, host string) (*Conn, error) {
	ap, err := lookup(n.cfg.Peers, host)
	if err != nil {
		return nil, err
	}
	qc, err := n.tr.Dial(ctx, net.UDPAddrFromAddrPort(ap), n.clientTLS(host, ALPN), n.qconf)
	if err != nil {
		return nil, dialError(ctx, host, ap, err)
	}
	// Standard hostname verification passed, so host is among the names;
	// the peer's identity is the first one.
	if name := peerName(qc.ConnectionState().TLS); name != host {
		qc.CloseWithError(0, "wrong host name")
		return nil, &PeerError{Host: host, Addr: ap.String(), Kind: ErrPeerAuth,
			Msg: "presented a certificate for " + name}
	}
	wctx, cancel := context.WithTimeout(ctx, n.qconf.HandshakeIdleTimeout)
	defer cancel()
	if err := awaitWelcome(wctx, qc); err != nil {
		if cause := context.Cause(qc.Context()); cause != nil {
			err = cause // the close tells more than the failed stream accept
		}
		qc.CloseWithError(0, "no welcome")
		return nil, dialError(ctx, host, ap, err)
	}
	n.log.Info("connected to peer", "peer", host, "remote", ap)
	return newConn(qc, n, host), nil
}

// dialError classifies a failed dial.
func dialError(ctx context.Context, host string, ap netip.AddrPort, err error) error {
	e := &PeerError{Host: host, Addr: ap.String(), Kind: ErrPeerUnreachable, Msg: "unreachable", Err: err}
	var te *quic.TransportError
	var ae *quic.ApplicationError
	var hte *quic.HandshakeTimeoutError
	var ite *quic.IdleTimeoutError
	switch {
	case errors.As(err, &te) && te.ErrorCode.IsCryptoError():
		e.Kind = ErrPeerAuth
		if te.Remote {
			e.Msg = "refused our certificate"
			if te.ErrorMessage == "" {
				e.Err = errors.New(te.ErrorCode.Message())
			}
		} else {
			e.Msg = "presented a certificate we refuse"
			if cause := tlsCause(te); cause != nil {
				e.Err = cause
			}
		}
	case errors.As(err, &ae):
		e.Msg = "closed the connection"
	case errors.As(err, &hte), errors.As(err, &ite):
		e.Msg = "not answering"
	case errors.Is(ctx.Err(), context.Canceled):
		e.Msg = "not dialed"
		e.Err = ctx.Err()
	case ctx.Err() != nil:
		e.Msg = "not answering"
		e.Err = ctx.Err()
	}
	return e
}

// tlsCause digs the crypto/tls error out of a local crypto TransportError.
func tlsCause(te *quic.TransportError) error {
	for _, inner := range te.Unwrap() {
		if inner != nil && !errors.Is(inner, net.ErrClosed) {
			return inner
		}
	}
	return nil
}
