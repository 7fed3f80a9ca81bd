package verify

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

func startReflector(t *testing.T) (*twamp.Reflector, netip.AddrPort) {
	t.Helper()
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	refl := twamp.NewReflector(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { refl.Serve(ctx, rc); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return refl, rc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestSenderLoopback(t *testing.T) {
	refl, addr := startReflector(t)
	s, err := Start(t.Context(), Config{Target: addr, Rate: 1000, Size: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	samples := s.Stop()
	if len(samples) < 100 {
		t.Fatalf("only %d packets sent in 1s at 1000 pps", len(samples))
	}
	for i, x := range samples {
		if x.Seq != uint32(i) || x.Lost() || x.Copies != 1 || x.RTT <= 0 || x.Received.Before(x.Sent) {
			t.Fatalf("sample %d: %+v", i, x)
		}
	}
	r := Analyze(samples, nil, Limits{MaxLost: 0})
	if !r.Pass || r.Lost != 0 || !r.ReflectorSeqContinuous || r.ReflectorSeqFirst != 0 || r.Duplicated != 0 {
		t.Fatalf("report %+v", r)
	}
	if uint64(r.Received) != refl.Reflected() {
		t.Errorf("received %d, reflector reflected %d", r.Received, refl.Reflected())
	}
	if again := s.Stop(); len(again) != len(samples) {
		t.Errorf("second Stop: %d samples", len(again))
	}
	t.Logf("%d sent in ~1s, %s, p50 %v p99 %v", r.Sent, r.Verdict, r.LatencyP50, r.LatencyP99)
}

func TestSenderNoReflector(t *testing.T) {
	// A bound port that never answers: everything is lost, nothing breaks.
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Start(ctx, Config{Target: pc.LocalAddr().(*net.UDPAddr).AddrPort(), Rate: 200, Drain: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel() // ending ctx stops sending; Stop still returns the samples
	samples := s.Stop()
	if len(samples) == 0 {
		t.Fatal("nothing sent")
	}
	r := Analyze(samples, nil, Limits{MaxLost: 0})
	if r.Lost != len(samples) || r.Pass {
		t.Fatalf("report %+v", r)
	}
}

func TestConfigValidate(t *testing.T) {
	good := netip.MustParseAddrPort("198.18.0.100:862")
	for _, c := range []Config{
		{},
		{Target: netip.MustParseAddrPort("198.18.0.100:0")},
		{Target: good, Size: 13},
		{Target: good, Rate: -1},
		{Target: good, Rate: maxRate + 1},
		{Target: good, Size: maxSize + 1},
	} {
		c.defaults()
		if c.validate() == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	c := Config{Target: good}
	c.defaults()
	if err := c.validate(); err != nil || c.Rate != DefaultRate || c.Size != DefaultSize || c.Drain != DefaultDrain {
		t.Errorf("defaults %+v: %v", c, err)
	}
	if _, err := Start(t.Context(), Config{}, nil); err == nil {
		t.Error("Start without target succeeded")
	}
}

// heldReflector is a reflector that answers nothing on its own: it queues
// every test packet until the test releases the replies, one every gap.
type heldReflector struct {
	conn *net.UDPConn
	in   chan heldPacket
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

// release answers up to n held packets (n < 0: all, including those still
// to come), one every gap, until stop is closed.
func (h *heldReflector) release(n int, gap time.Duration, stop <-chan struct{}) {
	var seq uint32
	for ; n != 0; n-- {
		var p heldPacket
		select {
		case p = <-h.in:
		case <-stop:
			return
		}
		now := twamp.NewTimestamp(time.Now())
		out, err := twamp.Reflect(nil, p.b, seq, now, now, twamp.DefaultErrorEstimate, 64)
		if err != nil {
			continue
		}
		seq++
		h.conn.WriteToUDPAddrPort(out, p.from)
		select {
		case <-time.After(gap):
		case <-stop:
			return
		}
	}
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

// Replies held through sending (a blackout) and returned after Stop begins,
// paced like a rollback's re-injection: together they take several times
// Drain, but no gap reaches it, so every one counts as received.
func TestSenderStopWaitsForTrickle(t *testing.T) {
	h, addr := startHeldReflector(t)
	const drain = 250 * time.Millisecond
	s, err := Start(t.Context(), Config{Target: addr, Rate: 200, Drain: drain}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // ~60 packets, none answered yet
	stop := make(chan struct{})
	defer close(stop)
	go h.release(-1, 10*time.Millisecond, stop)
	samples := stopWithin(t, s, 20*time.Second)
	if len(samples) < 20 {
		t.Fatalf("only %d packets sent", len(samples))
	}
	if n := lostCount(samples); n != 0 {
		t.Fatalf("%d of %d late replies counted as lost", n, len(samples))
	}
	for i, x := range samples {
		if x.Copies != 1 || x.Arrival < 0 {
			t.Fatalf("sample %d: %+v", i, x)
		}
	}
}

// Replies stop for good: Stop gives the rest up after Drain of silence,
// long before DrainMax, and counts exactly the replies that came.
func TestSenderStopGivesUpWhenIdle(t *testing.T) {
	h, addr := startHeldReflector(t)
	s, err := Start(t.Context(), Config{Target: addr, Rate: 200, Drain: 100 * time.Millisecond, DrainMax: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const answered = 10
	stop := make(chan struct{})
	defer close(stop)
	released := make(chan struct{})
	go func() { h.release(answered, 0, stop); close(released) }()
	time.Sleep(200 * time.Millisecond) // ~40 packets
	<-released
	samples := stopWithin(t, s, 20*time.Second)
	if len(samples) <= answered {
		t.Fatalf("only %d packets sent", len(samples))
	}
	if got := len(samples) - lostCount(samples); got != answered {
		t.Fatalf("%d received, want %d", got, answered)
	}
	for i, x := range samples[:answered] {
		if x.Lost() {
			t.Fatalf("answered sample %d counted as lost", i)
		}
	}
}

// Replies that never stop coming, but not for every packet: DrainMax ends
// the wait; what had not come back by then is lost.
func TestSenderStopDrainMax(t *testing.T) {
	h, addr := startHeldReflector(t)
	s, err := Start(t.Context(), Config{Target: addr, Rate: 500, Drain: time.Hour, DrainMax: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // ~100 packets
	stop := make(chan struct{})
	defer close(stop)
	go h.release(-1, 50*time.Millisecond, stop)
	samples := stopWithin(t, s, 20*time.Second)
	lost := lostCount(samples)
	if lost == 0 || lost == len(samples) {
		t.Fatalf("%d of %d lost: want some received and some lost", lost, len(samples))
	}
}
