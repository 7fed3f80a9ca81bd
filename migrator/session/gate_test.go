package session

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestGateHoldsReads: a held gate lets no read through until released; a
// cancelled context ends the wait; an open gate reads through.
func TestGateHoldsReads(t *testing.T) {
	g := newGate()
	ctx := context.Background()
	r := gatedReader{ctx: ctx, r: strings.NewReader("abc"), g: g}
	b := make([]byte, 1)
	if n, err := r.Read(b); n != 1 || err != nil || b[0] != 'a' {
		t.Fatalf("open gate: %d %v %q", n, err, b)
	}
	g.hold()
	g.hold() // twice: still one release opens it
	got := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(r)
		got <- string(rest)
	}()
	select {
	case s := <-got:
		t.Fatalf("read %q through a held gate", s)
	case <-time.After(50 * time.Millisecond):
	}
	g.release()
	g.release()
	select {
	case s := <-got:
		if s != "bc" {
			t.Fatalf("after release read %q, want %q", s, "bc")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still held after release")
	}

	g.hold()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (gatedReader{ctx: cctx, r: strings.NewReader("x"), g: g}).Read(b); err == nil {
		t.Fatal("held gate with a cancelled context: read succeeded")
	}
	if n, err := (gatedReader{ctx: ctx, r: strings.NewReader("x")}).Read(b); n != 1 || err != nil {
		t.Fatalf("nil gate: %d %v", n, err)
	}
}

// TestGatePaces: at a pace, a read takes at most 20 ms worth, the next
// waits until the bytes read are paid for at the rate, credit never grows
// past one read, and lifting the pace lets the next read go at once.
func TestGatePaces(t *testing.T) {
	g := newGate()
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	g.mu.Lock()
	if d, n := g.delay(); d != 0 || n != 0 {
		t.Fatalf("unpaced: delay %v, most %d; want 0, any", d, n)
	}
	g.mu.Unlock()
	g.setRate(1 << 20) // 1 MiB/s: reads of at most 20 KiB
	g.mu.Lock()
	d, n := g.delay()
	g.mu.Unlock()
	if d != 0 || n != (1<<20)/50 {
		t.Fatalf("fresh pace: delay %v, most %d; want 0, %d", d, n, (1<<20)/50)
	}
	g.took(n)
	g.mu.Lock()
	d, _ = g.delay()
	g.mu.Unlock()
	if d.Round(time.Millisecond) != 20*time.Millisecond {
		t.Fatalf("after a full read: delay %v, want 20ms (what it read, at the rate)", d)
	}
	now = now.Add(time.Hour) // idle: credit stops at one read
	g.mu.Lock()
	g.refill()
	tokens := g.tokens
	g.mu.Unlock()
	if tokens != float64(n) {
		t.Fatalf("after an idle hour: credit %v bytes, want %d", tokens, n)
	}
	g.took(10 * n)
	g.setRate(0)
	g.mu.Lock()
	d, n = g.delay()
	g.mu.Unlock()
	if d != 0 || n != 0 {
		t.Fatalf("pace lifted: delay %v, most %d; want 0, any", d, n)
	}
}

// TestGatePaceLiftWakes: a read waiting on the pace goes on when the pace
// is lifted, without waiting out its delay.
func TestGatePaceLiftWakes(t *testing.T) {
	g := newGate()
	g.setRate(4096) // 4 KiB/s: the second 4 KiB read waits a second
	r := gatedReader{ctx: context.Background(), r: strings.NewReader(strings.Repeat("x", 8192)), g: g}
	b := make([]byte, 8192)
	if n, err := r.Read(b); n != 4096 || err != nil {
		t.Fatalf("first read %d %v, want 4096 (one chunk)", n, err)
	}
	got := make(chan int, 1)
	go func() {
		n, _ := r.Read(b)
		got <- n
	}()
	g.setRate(0)
	select {
	case n := <-got:
		if n != 4096 {
			t.Fatalf("after the lift read %d, want the rest", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still paced after the pace was lifted")
	}
}
