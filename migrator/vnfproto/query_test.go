package vnfproto

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func TestQueryServe(t *testing.T) {
	pc := listen(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, pc, sampleStatus, nil) }()

	qctx, qcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer qcancel()
	s, err := Query(qctx, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if s != sampleStatus() {
		t.Fatalf("got %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// A server that drops the first requests and sends a reply with a wrong
// nonce before the right one: Query must retry and skip the stranger.
func TestQueryRetriesAndMatchesNonce(t *testing.T) {
	pc := listen(t)
	defer pc.Close()
	var seen atomic.Int32
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if seen.Add(1) <= 2 {
				continue // lost
			}
			r, err := DecodeRequest(buf[:n])
			if err != nil {
				continue
			}
			pc.WriteToUDPAddrPort(AppendStatus(nil, r.Nonce+1, Status{ReflectorSeq: 666}), from)
			pc.WriteToUDPAddrPort(AppendStatus(nil, r.Nonce, sampleStatus()), from)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := Query(ctx, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if s.ReflectorSeq != sampleStatus().ReflectorSeq {
		t.Fatalf("accepted reply with a foreign nonce: %+v", s)
	}
	if seen.Load() < 3 {
		t.Fatalf("only %d requests sent", seen.Load())
	}
}

func TestQueryGivesUpWithContext(t *testing.T) {
	pc := listen(t) // never answers
	defer pc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := Query(ctx, pc.LocalAddr().(*net.UDPAddr).AddrPort())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestQueryClosedPort(t *testing.T) {
	pc := listen(t)
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close() // ICMP port unreachable on each attempt
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := Query(ctx, netip.AddrPortFrom(addr.Addr(), addr.Port())); err == nil {
		t.Fatal("query to a closed port succeeded")
	}
}
