package verify

import (
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
	_ = rc.SetReadBuffer(1 << 20) // as the sender's: a stalled test loses nothing
	refl := twamp.NewReflector(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { refl.Serve(ctx, rc); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return refl, rc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// On loopback every packet comes back, once, in order. Counted in packets,
// not seconds: a busy machine may starve the sender or the reflector for a
// while, and Drain is as long as DrainMax so Stop waits for every reply.
func TestSenderLoopback(t *testing.T) {
	refl, addr := startReflector(t)
	s, err := Start(t.Context(), Config{Target: addr, Rate: 1000, Size: 100, Drain: DefaultDrainMax}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitSent(t, s, 100)
	samples := s.Stop()
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
	t.Logf("%d sent, %s, p50 %v p99 %v", r.Sent, r.Verdict, r.LatencyP50, r.LatencyP99)
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
	waitSent(t, s, 10)
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

// waitSent returns once s has sent n packets. The limit guards against
// waiting for ever on a sender that stopped; a starved sender may take
// long to send n at its rate.
func waitSent(t *testing.T, s *Sender, n int) {
	t.Helper()
	const limit = 30 * time.Second
	for end := time.Now().Add(limit); ; time.Sleep(time.Millisecond) {
		sent, _ := s.Counts()
		if sent >= n {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d packets sent after %v", sent, n, limit)
		}
	}
}
