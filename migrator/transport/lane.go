package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
	"github.com/quic-go/quic-go"
)

// LaneALPN is the application protocol of lanes.
const LaneALPN = "nfhandoff-lane/1"

// laneAccepted is the byte a lane's server writes once it has checked the
// client's certificate and the header and handed the lane to a connection:
// in TLS 1.3 the client's handshake ends before the server has seen its
// certificate, so without it a refused lane would look open.
const laneAccepted = 0x4c

// OpenLane opens a lane to the connection's peer: one TLS 1.3 connection
// over TCP to the peer's QUIC address (same IP, same port number), mutually
// authenticated with the same certificates as the QUIC connection, that
// carries one stream, h first. It is for bulk streams: TCP moves 64 KiB
// segments through the kernel and TLS seals 16 KiB records, where QUIC
// seals, sends and acknowledges every 1452-byte packet in user space, about
// twice the agents' CPU per byte (the notes of the fast-pipe issue). The
// peer receives it from AcceptStream like a QUIC stream; it dies with the
// connection, and its bytes count in the connection's Stats.
func (c *Conn) OpenLane(ctx context.Context, h wire.StreamHeader) (*Stream, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("opening lane: %w", err)
	}
	ua, ok := c.qc.RemoteAddr().(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("opening lane to %s: remote address %v is not UDP", c.peer, c.qc.RemoteAddr())
	}
	addr := (&net.TCPAddr{IP: ua.IP, Port: ua.Port}).String()
	dctx, cancel := context.WithTimeout(ctx, c.headerTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("opening lane to %s at %s: %w", c.peer, addr, err)
	}
	boundBuffers(nc)
	bc := newBatchConn(nc)
	tc := tls.Client(bc, c.node.clientTLS(c.peer, LaneALPN))
	if err := tc.HandshakeContext(dctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening lane to %s at %s: %w", c.peer, addr, err)
	}
	s := c.adopt(tc, bc, h)
	_, err = s.Write(c.binding[:])
	if err == nil {
		err = wire.WriteHeader(s, h)
	}
	if err != nil {
		s.Cancel()
		return nil, fmt.Errorf("opening lane to %s: %w", c.peer, err)
	}
	stop := context.AfterFunc(dctx, func() { tc.SetReadDeadline(time.Now()) })
	var ok1 [1]byte
	_, err = io.ReadFull(s, ok1[:])
	if !stop() {
		err = dctx.Err()
	}
	if err == nil && ok1[0] != laneAccepted {
		err = fmt.Errorf("unexpected answer %#x", ok1[0])
	}
	if err != nil {
		s.Cancel()
		return nil, fmt.Errorf("%s did not take our lane: %w", c.peer, err)
	}
	tc.SetReadDeadline(time.Time{})
	return s, nil
}

// adopt makes tc, over bc, a stream of c that ends when c ends.
func (c *Conn) adopt(tc *tls.Conn, bc *batchConn, h wire.StreamHeader) *Stream {
	l := &laneEnd{Conn: tc, bc: bc}
	s := &Stream{e: l, c: c, h: h}
	// A connection already ended runs the cancel at once, in another
	// goroutine: it must not read unwatch before it is set.
	set := make(chan struct{})
	l.unwatch = context.AfterFunc(c.Context(), func() { <-set; s.Cancel() })
	close(set)
	return s
}

// laneEnd is a lane's TLS connection.
type laneEnd struct {
	*tls.Conn
	bc      *batchConn  // under Conn
	unwatch func() bool // stops the cancel when the connection ends
}

// Write seals p in records that leave in as few system calls as their
// size allows.
func (l *laneEnd) Write(p []byte) (int, error) {
	return l.bc.batch(func() (int, error) { return l.Conn.Write(p) })
}

// closeWrite sends close_notify: the peer reads io.EOF, TCP stays open
// for the other direction.
func (l *laneEnd) closeWrite() error { return l.Conn.CloseWrite() }

func (l *laneEnd) close() error {
	l.unwatch()
	return l.Conn.Close()
}

// abort resets the TCP connection: the peer's reads and writes fail.
func (l *laneEnd) abort(quic.StreamErrorCode) {
	l.unwatch()
	if tc, ok := l.bc.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	l.bc.Close()
}

// listenLanes binds the lane listener on udp's address (TCP, same port).
func listenLanes(udp *net.UDPConn) (net.Listener, error) {
	ua := udp.LocalAddr().(*net.UDPAddr)
	return net.ListenTCP("tcp", &net.TCPAddr{IP: ua.IP, Port: ua.Port, Zone: ua.Zone})
}

// serveLanes accepts lanes until ln is closed.
func (n *Node) serveLanes(ctx context.Context, ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				n.log.Warn("accepting lane", "err", err)
			}
			return
		}
		go n.acceptLane(ctx, nc)
	}
}

// acceptLane authenticates a lane, reads its header and hands it to the
// peer's live connection, whose AcceptStream returns it.
func (n *Node) acceptLane(ctx context.Context, nc net.Conn) {
	boundBuffers(nc)
	bc := newBatchConn(nc)
	tc := tls.Server(bc, n.serverTLS(LaneALPN))
	tc.SetDeadline(time.Now().Add(n.cfg.IdleTimeout))
	fail := func(msg string, args ...any) {
		n.log.Warn(msg, append(args, "remote", nc.RemoteAddr())...)
		nc.Close()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		fail("lane handshake failed", "err", err) // a refused certificate is logged by VerifyConnection too
		return
	}
	peer := peerName(tc.ConnectionState())
	cr := &countingReader{r: tc}
	var b binding
	_, err := io.ReadFull(cr, b[:])
	var h wire.StreamHeader
	if err == nil {
		h, err = wire.ReadHeader(cr)
	}
	if err != nil {
		fail("refused lane", "peer", peer, "err", err)
		return
	}
	c := n.boundTo(peer, b)
	if c == nil {
		fail("refused lane: no live connection from its peer with its binding", "peer", peer, "session", h.Session)
		return
	}
	s := c.adopt(tc, bc, h)
	s.received.Add(cr.n)
	c.received.Add(cr.n)
	if _, err := s.Write([]byte{laneAccepted}); err != nil {
		n.log.Warn("answering lane", "peer", peer, "err", err, "remote", nc.RemoteAddr())
		s.Cancel() // also stops watching c
		return
	}
	tc.SetDeadline(time.Time{})
	select {
	case c.incoming <- s:
		n.log.Debug("lane accepted", "peer", peer, "session", h.Session, "kind", h.Kind, "channel", h.Channel)
	case <-time.After(n.cfg.IdleTimeout):
		s.Cancel()
		n.log.Warn("lane not taken", "peer", peer, "session", h.Session)
	case <-c.Context().Done():
		s.Cancel()
	}
}

// binding names one QUIC connection to both its ends and no one else:
// keying material exported from its TLS session. A lane sends it first, so
// it joins the connection (and the sessions) it belongs to.
type binding [16]byte

const bindingLabel = "EXPORTER-nfhandoff-lane"

func connBinding(qc *quic.Conn) binding {
	var b binding
	cs := qc.ConnectionState().TLS
	if m, err := cs.ExportKeyingMaterial(bindingLabel, nil, len(b)); err == nil {
		copy(b[:], m)
	}
	return b
}

// boundTo is the live connection with peer whose binding is b.
func (n *Node) boundTo(peer string, b binding) *Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	match := func(c *Conn) bool {
		return c != nil && c.peer == peer && c.binding == b && b != (binding{}) && c.Context().Err() == nil
	}
	for c := range n.accepted {
		if match(c) {
			return c
		}
	}
	for _, s := range n.pool {
		if match(s.conn) {
			return s.conn
		}
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += uint64(k)
	return k, err
}

// laneBuffer bounds a lane's kernel socket buffers, each way. Linux grows
// them to megabytes, and every byte in flight when the guest stops must
// still reach the destination QEMU before it can answer or start the guest
// (measured: 73-86 ms of a post-copy pause behind about 8 MiB in flight).
// Between hosts a few hundred microseconds apart, 512 KiB is well over the
// bandwidth-delay product.
const laneBuffer = 512 << 10

// boundBuffers sets c's socket buffers to laneBuffer, if it is TCP.
func boundBuffers(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(laneBuffer)
		tc.SetWriteBuffer(laneBuffer)
	}
}
