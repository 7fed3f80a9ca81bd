package transport

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/quic-go/quic-go"
)

func TestPoolReuse(t *testing.T) {
	a, b, ab, _ := pair(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	conns := make([]*Conn, 8)
	for i := range conns {
		wg.Go(func() {
			c, err := a.Dial(ctx, "hostB")
			if err != nil {
				t.Error(err)
			}
			conns[i] = c
		})
	}
	wg.Wait()
	for i, c := range conns {
		if c != ab {
			t.Errorf("dial %d made a new connection", i)
		}
	}
	ab.CloseWithError(7, "test closes")
	<-ab.Context().Done()
	c, err := a.Dial(ctx, "hostB")
	if err != nil {
		t.Fatal(err)
	}
	if c == ab || c.Context().Err() != nil {
		t.Error("dial after close returned the dead connection")
	}
	b.accepted(t) // the second connection
	select {
	case extra := <-b.conns:
		t.Errorf("extra connection from %s accepted", extra.Peer())
	default:
	}
}

// rawNode is a node whose socket a test can close without QUIC noticing,
// as when its process is killed.
func rawNode(t *testing.T, id *pki.Identity, addr string, idleTimeout time.Duration) (*Node, chan *Conn) {
	t.Helper()
	conns := make(chan *Conn, 4)
	n, err := New(Config{Identity: id, Listen: addr, IdleTimeout: idleTimeout, KeepAlive: idleTimeout / 4,
		Logger: slog.New(slog.DiscardHandler), Accept: func(_ context.Context, c *Conn) { conns <- c }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go n.Serve(ctx)
	t.Cleanup(func() { cancel(); n.Close() })
	return n, conns
}

func TestDeadPeerNoticed(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	a := startNode(t, p.identity(t, "hostA"), peers, idle(time.Second))
	b, _ := rawNode(t, p.identity(t, "hostB"), "127.0.0.1:0", time.Second)
	writePeers(t, peers, map[string]*testNode{"hostB": {Node: b}})
	ab, err := a.Dial(ctxT(t), "hostB")
	if err != nil {
		t.Fatal(err)
	}
	die(b) // the peer's process dies: no CONNECTION_CLOSE
	select {
	case <-ab.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("dead peer not noticed")
	}
	var ite *quic.IdleTimeoutError
	if cause := context.Cause(ab.Context()); !errors.As(cause, &ite) {
		t.Errorf("connection ended by %v, want an idle timeout", cause)
	}
	_, err = a.Dial(ctxT(t), "hostB")
	wantPeerErr(t, err, ErrPeerUnreachable, "not answering")

	_, conns := rawNode(t, p.identity(t, "hostB"), b.Addr().String(), time.Second)
	c, err := a.Dial(ctxT(t), "hostB")
	if err != nil {
		t.Fatal(err)
	}
	if c == ab {
		t.Error("the dead connection was reused")
	}
	<-conns
}

// A peer restarted on the same address with the same key resets the old
// connection at once (stateless reset) instead of letting it time out.
func TestRestartedPeerResets(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	a := startNode(t, p.identity(t, "hostA"), peers)
	b, _ := rawNode(t, p.identity(t, "hostB"), "127.0.0.1:0", 10*time.Second)
	writePeers(t, peers, map[string]*testNode{"hostB": {Node: b}})
	ab, err := a.Dial(ctxT(t), "hostB")
	if err != nil {
		t.Fatal(err)
	}
	die(b)
	rawNode(t, p.identity(t, "hostB"), b.Addr().String(), 10*time.Second)
	// Writing makes A send a packet the new process cannot decrypt.
	s, err := ab.qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hello?"))
	<-ab.Context().Done()
	var sre *quic.StatelessResetError
	if cause := context.Cause(ab.Context()); !errors.As(cause, &sre) {
		t.Errorf("connection ended by %v, want a stateless reset", cause)
	}
}

func TestAcceptContextEndsWithServe(t *testing.T) {
	p := newPKI(t)
	peers := peersPath(t)
	got := make(chan context.Context, 1)
	bn, err := New(Config{Identity: p.identity(t, "hostB"), Listen: "127.0.0.1:0",
		Accept: func(ctx context.Context, c *Conn) { got <- ctx }})
	if err != nil {
		t.Fatal(err)
	}
	defer bn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- bn.Serve(ctx) }()
	a := startNode(t, p.identity(t, "hostA"), peers)
	writePeers(t, peers, map[string]*testNode{"hostB": {Node: bn}})
	if _, err := a.Dial(ctxT(t), "hostB"); err != nil {
		t.Fatal(err)
	}
	actx := <-got
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after its ctx ended: %v, want nil", err)
	}
	<-actx.Done()
}
