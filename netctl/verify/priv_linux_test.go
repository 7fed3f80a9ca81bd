package verify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// namedNetnsWithReflector creates a named netns with lo up and a TWAMP
// reflector on 127.0.0.1 inside it; the test's own thread stays where it
// was.
func namedNetnsWithReflector(t *testing.T) (string, netip.AddrPort) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	name := fmt.Sprintf("t4verify-%d", os.Getpid())
	type result struct {
		conn *net.UDPConn
		err  error
	}
	ch := make(chan result, 1)
	go func() { // the thread is discarded if it cannot go back
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name) // also enters it
		if err != nil {
			ch <- result{err: err}
			return
		}
		h.Close()
		var r result
		if lo, err := netlink.LinkByName("lo"); err != nil {
			r.err = err
		} else if err := netlink.LinkSetUp(lo); err != nil {
			r.err = err
		} else {
			r.conn, r.err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		}
		if err := netns.Set(orig); err != nil {
			ch <- result{err: fmt.Errorf("restoring netns: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- r
	}()
	r := <-ch
	t.Cleanup(func() { netns.DeleteNamed(name) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { twamp.NewReflector(nil).Serve(ctx, r.conn); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return name, r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestPrivSenderNetns(t *testing.T) {
	name, addr := namedNetnsWithReflector(t)
	run := func(ns string) Report {
		s, err := Start(t.Context(), Config{Target: addr, Rate: 500, Netns: ns, Drain: 100 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		return Analyze(s.Stop(), nil, Limits{MaxLost: 0})
	}
	if r := run(name); !r.Pass || r.Sent == 0 {
		t.Errorf("inside %s: %s", name, r.Verdict)
	}
	// From the test's own namespace the reflector is not there.
	if r := run(""); r.Received != 0 {
		t.Errorf("outside: %d replies", r.Received)
	}
	if _, err := Start(t.Context(), Config{Target: addr, Netns: name + "-missing"}, nil); err == nil {
		t.Error("missing netns: no error")
	}
}
