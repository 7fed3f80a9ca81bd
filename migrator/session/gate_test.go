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
