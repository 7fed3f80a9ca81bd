package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// lanePair is a dialed connection A→B and B's side of it.
func lanePair(t *testing.T) (a, b *testNode, ab, ba *Conn) {
	t.Helper()
	p := newPKI(t)
	peers := peersPath(t)
	a = startNode(t, p.identity(t, "hostA"), peers)
	b = startNode(t, p.identity(t, "hostB"), peers)
	writePeers(t, peers, map[string]*testNode{"hostB": b})
	ab, err := a.Dial(ctxT(t), "hostB")
	if err != nil {
		t.Fatal(err)
	}
	return a, b, ab, b.accepted(t)
}

// A lane reaches the peer's AcceptStream with its header, carries bytes
// both ways with half-close, and counts them in the connection's stats.
func TestLaneCarriesAStream(t *testing.T) {
	_, _, ab, ba := lanePair(t)
	h := wire.StreamHeader{Kind: wire.KindQEMU, Session: "hostA-1", Channel: 0}
	s, err := ab.OpenLane(ctxT(t), h)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.e.(*laneEnd); !ok {
		t.Fatalf("OpenLane gave a %T", s.e)
	}
	r, rh, err := ba.AcceptStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if rh != h || r.Header() != h {
		t.Fatalf("header %+v, want %+v", rh, h)
	}
	big := bytes.Repeat([]byte("qemu page "), 100_000)
	go func() { s.Write(big); s.CloseWrite() }()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(big))
	}
	// The other direction still works after the first one ended.
	if _, err := r.Write([]byte("return path")); err != nil {
		t.Fatal(err)
	}
	r.CloseWrite()
	back, err := io.ReadAll(s)
	if err != nil || string(back) != "return path" {
		t.Fatalf("back %q, %v", back, err)
	}
	s.Close()
	r.Close()
	if sent, _ := ab.Stats(); sent < uint64(len(big)) {
		t.Errorf("connection sent %d, want at least %d", sent, len(big))
	}
	if _, recv := ba.Stats(); recv < uint64(len(big)) {
		t.Errorf("connection received %d, want at least %d", recv, len(big))
	}
}

// A lane that names no live connection of its peer (a wrong binding) is
// closed without reaching AcceptStream, and its opener is told.
func TestLaneWithoutItsConnectionRefused(t *testing.T) {
	a, b, _, ba := lanePair(t)
	tc, err := tls.Dial("tcp", b.Addr().String(), a.clientTLS("hostB", LaneALPN))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.Write(make([]byte, len(binding{}))) // not ab's binding
	wire.WriteHeader(tc, wire.StreamHeader{Kind: wire.KindQEMU, Session: "hostA-1"})
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tc.Read(make([]byte, 1)); err == nil {
		t.Fatalf("lane with a wrong binding answered (%d bytes)", n)
	}
	b.log.waitLog(t, "refused lane: no live connection")
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	if s, _, err := ba.AcceptStream(ctx); err == nil {
		t.Fatalf("a lane with a wrong binding was accepted: %+v", s.Header())
	}
}

// A lane ends with its connection.
func TestLaneEndsWithItsConnection(t *testing.T) {
	_, _, ab, ba := lanePair(t)
	s, err := ab.OpenLane(ctxT(t), wire.StreamHeader{Kind: wire.KindQEMU, Session: "hostA-1"})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := ba.AcceptStream(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ab.CloseWithError(0, "gone")
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(r); err == nil {
		t.Fatal("lane read a clean end after its connection closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("lane outlived its connection")
	}
	if _, err := s.Write([]byte("x")); err == nil {
		// the local end is reset at once; a write may only fail later
		s.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for i := 0; i < 100 && err == nil; i++ {
			_, err = s.Write(make([]byte, 64<<10))
		}
		if err == nil {
			t.Fatal("writing to a lane of a closed connection kept working")
		}
	}
}
