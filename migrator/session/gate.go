package session

import (
	"context"
	"io"
	"sync"
)

// gate holds the source's QEMU channels (QEMU to peer) while closed: the
// agent stops reading QEMU's migration sockets, QEMU's migration thread
// blocks in write once a socket buffer is full, and so cannot reach a
// switchover of its own while the agent prepares one. It starts open.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

// hold closes the gate: reads started afterwards wait for release.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// release opens the gate.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// wait returns once the gate is open, or ctx's error.
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedReader reads from r only while g is open (nil g: always).
type gatedReader struct {
	ctx context.Context
	r   io.Reader
	g   *gate
}

func (r gatedReader) Read(p []byte) (int, error) {
	if r.g != nil {
		if err := r.g.wait(r.ctx); err != nil {
			return 0, err
		}
	}
	return r.r.Read(p)
}
