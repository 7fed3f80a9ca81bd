package session

import (
	"context"
	"io"
	"sync"
	"time"
)

// gate holds or paces the source's QEMU channels (QEMU to peer).
//
// Held (hold, release): the agent stops reading QEMU's migration sockets,
// QEMU's migration thread blocks in write once a socket buffer is full, and
// so cannot reach a switchover of its own while the agent prepares one.
//
// Paced (setRate): the agent reads QEMU's sockets at the policy's bandwidth,
// and QEMU's own max-bandwidth is out of the way (policy.QEMUMaxBandwidth). QEMU's rate
// limit sleeps out the rest of a 100 ms window once the window's bytes are
// sent, and nothing the agent can do wakes it: a guest stopped for the
// switchover waited up to that long before QEMU sent its last pages (60-72
// ms of a 110 ms pause at 64 MiB/s). A write blocked on the agent's pacing
// goes on the moment the pace is lifted.
//
// It starts open and unpaced.
type gate struct {
	mu     sync.Mutex
	open   chan struct{} // closed while the gate is open: neither held nor quieted
	held   bool          // by its own session (hold)
	quiet  int           // blackouts of other migrations holding it (Blackouts)
	rate   uint64        // bytes/s; 0: unpaced
	tokens float64       // bytes that may be read now; negative: read ahead of the pace
	last   time.Time     // when tokens were last brought up to date
	change chan struct{} // closed when the rate changes: wakes the pacing waits
	now    func() time.Time
}

func newGate() *gate {
	g := &gate{open: make(chan struct{}), change: make(chan struct{}), now: time.Now}
	close(g.open)
	return g
}

// hold closes the gate: reads started afterwards wait for release.
func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = true
	g.sync()
}

// release opens the gate (unless another migration's blackout holds it).
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
	g.sync()
}

// quieten holds (on) or releases the gate for another migration's
// blackout; it counts, apart from hold and release.
func (g *gate) quieten(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.quiet++
	} else if g.quiet > 0 {
		g.quiet--
	}
	g.sync()
}

// sync opens or closes g.open to match held and quiet. Call with mu held.
func (g *gate) sync() {
	want := !g.held && g.quiet == 0
	select {
	case <-g.open:
		if !want {
			g.open = make(chan struct{})
		}
	default:
		if want {
			close(g.open)
		}
	}
}

// setRate paces reads at bps bytes/s from now on (0: unpaced); reads
// waiting on the old pace go on at the new one at once.
func (g *gate) setRate(bps uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refill()
	if bps == 0 || g.rate == 0 {
		g.tokens = 0 // no debt or credit carries over an unpaced stretch
	}
	g.rate = bps
	g.tokens = min(g.tokens, float64(g.chunk()))
	close(g.change)
	g.change = make(chan struct{})
}

// chunk is the most one read may take at the pace: 20 ms worth (at least
// 4 KiB), so that a read never runs far ahead of it. Call with mu held.
func (g *gate) chunk() int {
	return int(max(g.rate/50, 4096))
}

// refill brings tokens up to now, at most one chunk of credit. Call with mu
// held.
func (g *gate) refill() {
	now := g.now()
	if g.rate > 0 && !g.last.IsZero() {
		g.tokens = min(g.tokens+now.Sub(g.last).Seconds()*float64(g.rate), float64(g.chunk()))
	}
	g.last = now
}

// delay is how long a read must wait for the pace (0: read now), and how
// much it may read (0: any). Call with mu held.
func (g *gate) delay() (time.Duration, int) {
	if g.rate == 0 {
		return 0, 0
	}
	g.refill()
	if g.tokens >= 0 {
		return 0, g.chunk()
	}
	return time.Duration(-g.tokens / float64(g.rate) * float64(time.Second)), 0
}

// took counts n bytes read against the pace.
func (g *gate) took(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rate > 0 {
		g.tokens -= float64(n)
	}
}

// wait returns once the gate is open and the pace allows a read, with the
// most that read may take (0: any), or ctx's error.
func (g *gate) wait(ctx context.Context) (int, error) {
	for {
		g.mu.Lock()
		open, change := g.open, g.change
		g.mu.Unlock()
		select {
		case <-open:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		g.mu.Lock()
		d, n := g.delay()
		g.mu.Unlock()
		if d == 0 {
			return n, nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-change:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
	}
}

// gatedReader reads from r only while g is open, at g's pace (nil g:
// always, unpaced).
type gatedReader struct {
	ctx context.Context
	r   io.Reader
	g   *gate
}

func (r gatedReader) Read(p []byte) (int, error) {
	if r.g == nil {
		return r.r.Read(p)
	}
	most, err := r.g.wait(r.ctx)
	if err != nil {
		return 0, err
	}
	if most > 0 && len(p) > most {
		p = p[:most]
	}
	n, err := r.r.Read(p)
	r.g.took(n)
	return n, err
}
