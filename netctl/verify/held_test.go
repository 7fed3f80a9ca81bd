package verify

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

// heldReflector is a reflector that answers nothing on its own: it queues
// every test packet until the test answers it.
type heldReflector struct {
	conn *net.UDPConn
	in   chan heldPacket
	seq  uint32 // the next reply's reflector sequence number
}

type heldPacket struct {
	b    []byte
	from netip.AddrPort
}

func startHeldReflector(t *testing.T) (*heldReflector, netip.AddrPort) {
	t.Helper()
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.SetReadBuffer(1 << 20)
	h := &heldReflector{conn: rc, in: make(chan heldPacket, 1<<16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := rc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			h.in <- heldPacket{bytes.Clone(buf[:n]), from}
		}
	}()
	t.Cleanup(func() { rc.Close(); <-done })
	return h, rc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// answer sends p's reply.
func (h *heldReflector) answer(p heldPacket) error {
	now := twamp.NewTimestamp(time.Now())
	out, err := twamp.Reflect(nil, p.b, h.seq, now, now, twamp.DefaultErrorEstimate, 64)
	if err != nil {
		return err
	}
	h.seq++
	_, err = h.conn.WriteToUDPAddrPort(out, p.from)
	return err
}

// release answers n held packets as they come, until stop is closed.
func (h *heldReflector) release(n int, stop <-chan struct{}) {
	for ; n > 0; n-- {
		select {
		case p := <-h.in:
			h.answer(p)
		case <-stop:
			return
		}
	}
}

// fakeClock stands still until the test moves it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	reads int
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.now
}

func (c *fakeClock) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stopGuard is how long a test waits for Stop: a guard against waiting for
// ever, not a timing assertion.
const stopGuard = 30 * time.Second

// trickle calls s.Stop and, once Stop's wait for late replies has begun
// (it has read clk: nothing else does before a reply), answers up to n held
// packets (n < 0: all) one at a time, moving clk on by step each time the
// sender has taken a reply in. Then it waits for Stop and returns its
// samples. However slowly the machine runs the test, the reflector or the
// sender, Stop sees exactly step between replies.
func trickle(t *testing.T, h *heldReflector, s *Sender, clk *fakeClock, n int, step time.Duration) []Sample {
	t.Helper()
	done := make(chan []Sample, 1)
	go func() { done <- s.Stop() }()
	guard := time.After(stopGuard)
	// until polls ok; it returns Stop's samples if Stop returned first.
	until := func(ok func() bool) []Sample {
		for !ok() {
			select {
			case samples := <-done:
				return samples
			case <-guard:
				sent, got := s.Counts()
				t.Fatalf("Stop still waiting after %v: %d sent, %d answered", stopGuard, sent, got)
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	if samples := until(func() bool { return clk.Reads() > 0 }); samples != nil {
		return samples
	}
	for answered := 0; n < 0 || answered < n; {
		select {
		case samples := <-done:
			return samples
		case p := <-h.in:
			if err := h.answer(p); err != nil {
				t.Fatal(err)
			}
			answered++
		}
		if samples := until(func() bool { _, got := s.Counts(); return got >= answered }); samples != nil {
			return samples
		}
		clk.Advance(step)
	}
	return until(func() bool { return false })
}

// stopWithin calls s.Stop and fails the test if it does not return within
// limit (a guard against waiting for ever, not a timing assertion).
func stopWithin(t *testing.T, s *Sender, limit time.Duration) []Sample {
	t.Helper()
	done := make(chan []Sample, 1)
	go func() { done <- s.Stop() }()
	select {
	case samples := <-done:
		return samples
	case <-time.After(limit):
		t.Fatalf("Stop still waiting after %v", limit)
		return nil
	}
}

func lostCount(samples []Sample) int {
	n := 0
	for _, x := range samples {
		if x.Lost() {
			n++
		}
	}
	return n
}
