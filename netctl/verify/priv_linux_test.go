package verify

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// namedNetnsWithReflector creates a named netns with lo up and a TWAMP
// reflector on 127.0.0.1 inside it; the test's own thread stays where it
// was.
func namedNetnsWithReflector(t *testing.T) (string, netip.AddrPort) {
	t.Helper()
	ns := privtest.NewNetNS(t, "t4verify")
	var conn *net.UDPConn
	var err error
	ns.Do(func() { conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { twamp.NewReflector(nil).Serve(ctx, conn); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ns.Name(), conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestPrivSenderNetns(t *testing.T) {
	name, addr := namedNetnsWithReflector(t)
	// Counted in packets, not seconds: a busy machine may starve the
	// sender; inside, Stop waits for every reply.
	run := func(ns string, drain time.Duration) Report {
		s, err := Start(t.Context(), Config{Target: addr, Rate: 500, Netns: ns, Drain: drain}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitSent(t, s, 100)
		return Analyze(s.Stop(), nil, Limits{MaxLost: 0})
	}
	if r := run(name, DefaultDrainMax); !r.Pass || r.Sent == 0 {
		t.Errorf("inside %s: %s", name, r.Verdict)
	}
	// From the test's own namespace the reflector is not there.
	if r := run("", 100*time.Millisecond); r.Received != 0 {
		t.Errorf("outside: %d replies", r.Received)
	}
	if _, err := Start(t.Context(), Config{Target: addr, Netns: name + "-missing"}, nil); err == nil {
		t.Error("missing netns: no error")
	}
}
