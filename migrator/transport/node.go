package transport

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
)

// Node is one agent's QUIC endpoint: a single UDP socket used both to serve
// (Serve) and to dial peers (Dial).
type Node struct {
	cfg   Config
	log   *slog.Logger
	udp   *net.UDPConn
	lanes net.Listener // TCP on udp's address; nil for a dial-only node
	tr    *quic.Transport
	qconf *quic.Config

	mu       sync.Mutex
	closed   bool
	serving  bool
	pool     map[string]*slot
	accepted map[*Conn]struct{}
}

// New binds the node's UDP socket (cfg.Listen, or an ephemeral port when
// empty) without serving yet.
func New(cfg Config) (*Node, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	laddr := &net.UDPAddr{}
	if cfg.Listen != "" {
		a, err := net.ResolveUDPAddr("udp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("quic listen address: %w", err)
		}
		laddr = a
	}
	udp, lanes, err := bind(laddr, cfg.Listen != "")
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		udp:      udp,
		lanes:    lanes,
		qconf:    cfg.quicConfig(),
		pool:     map[string]*slot{},
		accepted: map[*Conn]struct{}{},
	}
	n.tr = &quic.Transport{Conn: udp, StatelessResetKey: resetKey(cfg)}
	return n, nil
}

// bind binds the node's UDP socket at laddr and, for a serving node, its
// lane listener on the same address over TCP. An ephemeral port is chosen
// again (a few times) when TCP has it taken.
func bind(laddr *net.UDPAddr, serve bool) (*net.UDPConn, net.Listener, error) {
	for try := 0; ; try++ {
		udp, err := net.ListenUDP("udp", laddr)
		if err != nil {
			return nil, nil, fmt.Errorf("binding quic socket: %w", err)
		}
		if !serve {
			return udp, nil, nil
		}
		lanes, err := listenLanes(udp)
		if err == nil {
			return udp, lanes, nil
		}
		udp.Close()
		if laddr.Port != 0 || try == 4 {
			return nil, nil, fmt.Errorf("binding lane listener (tcp, the quic port): %w", err)
		}
	}
}

// resetKey derives the stateless reset key from the node's private key, so
// that it survives a restart: a peer still talking to the previous process
// is then told at once that its connection is gone.
func resetKey(cfg Config) *quic.StatelessResetKey {
	der, err := x509.MarshalPKCS8PrivateKey(cfg.Identity.Cert.PrivateKey)
	if err != nil {
		return nil
	}
	k := quic.StatelessResetKey(sha256.Sum256(append([]byte("nfhandoff stateless reset\x00"), der...)))
	return &k
}

// Addr is the local UDP address the node serves and dials from.
func (n *Node) Addr() net.Addr { return n.udp.LocalAddr() }

// Name is the node's own host name (its certificate's).
func (n *Node) Name() string { return n.cfg.Identity.Name }

// Serve accepts connections until ctx ends (then it returns nil) or the
// node is closed, calling cfg.Accept for each authenticated one.
func (n *Node) Serve(ctx context.Context) error {
	if n.cfg.Listen == "" {
		return errors.New("serving quic: no listen address configured")
	}
	n.mu.Lock()
	if n.closed || n.serving {
		n.mu.Unlock()
		return errors.New("serving quic: node closed or already serving")
	}
	n.serving = true
	n.mu.Unlock()
	ln, err := n.tr.Listen(n.serverTLS(ALPN), n.qconf)
	if err != nil {
		return fmt.Errorf("serving quic: %w", err)
	}
	defer ln.Close()
	go n.serveLanes(ctx, n.lanes)
	n.log.Info("quic listening", "addr", n.Addr(), "lanes", n.lanes.Addr(), "name", n.Name())
	for {
		qc, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil || n.isClosed() {
				return nil
			}
			return fmt.Errorf("accepting quic connection: %w", err)
		}
		n.accept(ctx, qc)
	}
}

func (n *Node) accept(ctx context.Context, qc *quic.Conn) {
	c := newConn(qc, n, peerName(qc.ConnectionState().TLS))
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		qc.CloseWithError(0, "closing")
		return
	}
	n.accepted[c] = struct{}{}
	n.mu.Unlock()
	n.log.Info("peer connected", "peer", c.Peer(), "remote", qc.RemoteAddr())
	cctx, cancel := context.WithCancel(ctx)
	context.AfterFunc(qc.Context(), func() {
		cancel()
		n.mu.Lock()
		delete(n.accepted, c)
		n.mu.Unlock()
		n.log.Info("peer connection ended", "peer", c.Peer(), "remote", qc.RemoteAddr(), "reason", context.Cause(qc.Context()))
	})
	go func() {
		if err := sendWelcome(qc); err != nil {
			n.log.Warn("greeting peer", "peer", c.Peer(), "err", err)
		}
		n.cfg.Accept(cctx, c)
	}()
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Close closes every connection (dialed and accepted), stops Serve and
// releases the socket.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	var conns []*Conn
	for _, s := range n.pool {
		if s.conn != nil {
			conns = append(conns, s.conn)
		}
	}
	for c := range n.accepted {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.CloseWithError(0, "agent shutting down")
	}
	var lerr error
	if n.lanes != nil {
		lerr = n.lanes.Close()
	}
	return errors.Join(n.tr.Close(), n.udp.Close(), lerr)
}
