package dataplane

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// discardStream is a flush stream nobody reads.
type discardStream struct{}

func (discardStream) Read([]byte) (int, error)    { return 0, os.ErrClosed }
func (discardStream) Write(p []byte) (int, error) { return len(p), nil }
func (discardStream) Close() error                { return nil }
func (discardStream) CloseWrite() error           { return nil }

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// After a move, frames for the VM that still reach the source host's
// uplink are sent over VXLAN to the destination host and come out of the
// VM's tap there, in order; after the grace period the source entry goes.
func TestPrivForwardVXLAN(t *testing.T) {
	switch os.Getenv("DPT_ROLE") {
	case "src":
		forwardSource(t)
		return
	case "dst":
		forwardDest(t)
		return
	}
	b := newBed(t) // host = source (h1), client attached to its br0 (unused)
	h2 := b.host + "d"
	run(t, "ip", "netns", "add", h2)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", h2).Run() })
	for _, c := range [][]string{
		{"ip", "-n", b.host, "link", "add", "u1", "type", "veth", "peer", "name", "u2", "netns", h2},
		{"ip", "-n", b.host, "addr", "add", "198.18.99.1/24", "dev", "u1"},
		{"ip", "-n", b.host, "link", "set", "u1", "up"},
		{"ip", "-n", h2, "addr", "add", "198.18.99.2/24", "dev", "u2"},
		{"ip", "-n", h2, "link", "set", "u2", "up"},
		{"ip", "-n", h2, "link", "set", "lo", "up"},
		{"ip", "-n", h2, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", h2, "link", "set", "br0", "up"},
		// The client reaches the source host through its uplink up1.
		{"ip", "-n", b.host, "link", "add", "up1", "type", "veth", "peer", "name", "vu", "netns", b.client},
		{"ip", "-n", b.host, "link", "set", "up1", "up"},
		{"ip", "-n", b.client, "link", "set", "vu", "address", clientMAC.String(), "up"},
	} {
		run(t, c...)
	}
	waitPing(t, b.host, "198.18.99.2") // the underlay transmits; the neighbour is resolved
	env := append(bedEnv(b), "DPT_DIR="+b.dir)
	dst := childCmd(t, h2, append(env, "DPT_ROLE=dst")...)
	src := childCmd(t, b.host, append(env, "DPT_ROLE=src")...)
	dstOut, srcOut := &lockedBuf{}, &lockedBuf{}
	dst.Stdout, dst.Stderr = dstOut, dstOut
	src.Stdout, src.Stderr = srcOut, srcOut
	if err := dst.Start(); err != nil {
		t.Fatal(err)
	}
	srcErr := src.Run()
	dstErr := dst.Wait()
	t.Logf("source:\n%s\ndestination:\n%s", srcOut.String(), dstOut.String())
	if srcErr != nil || dstErr != nil {
		t.Fatalf("source: %v, destination: %v", srcErr, dstErr)
	}
}

func forwardDest(t *testing.T) {
	ctx := context.Background()
	dir := os.Getenv("DPT_DIR")
	d, _, r := childSetup(t, Config{PinDir: filepath.Join(os.Getenv("DPT_BPFFS"), "dst")})
	if err := os.WriteFile(filepath.Join(dir, "dst-ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantSeq(t, r.waitFor(t, 20), seqs(tagClient, 1, 20))
	ctr, err := d.maps.countersOf(keyOf(vmMAC))
	if err != nil || ctr.ForwardedIn < 20 {
		t.Fatalf("forwarded_in %d (%v), want at least the 20 test frames", ctr.ForwardedIn, err)
	}
	_ = ctx
}

func forwardSource(t *testing.T) {
	ctx := context.Background()
	dir := os.Getenv("DPT_DIR")
	grace := 1500 * time.Millisecond
	d, tap, r := childSetup(t, Config{PinDir: filepath.Join(os.Getenv("DPT_BPFFS"), "src"), Uplink: "up1", ForwardGrace: grace})
	h := d.Handoff()
	steps := []func() error{
		func() error { return h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.99.2")) },
		func() error { return h.Switchover(ctx, testSpec) },
		func() error { // the source QEMU reads no more; the residue reader needs no deadline
			r.close()
			return tap.File.SetReadDeadline(time.Time{})
		},
		func() error { return h.Resumed(ctx, testSpec, discardStream{}) },
		func() error { return h.Detach(ctx, testSpec) }, // the source QEMU and tap go
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	st, ok, err := d.maps.state(keyOf(vmMAC))
	if err != nil || !ok || st.Mode != modeForward || st.TapIfindex != 0 {
		t.Fatalf("after detach: %+v %v %v", st, ok, err)
	}
	waitFile(t, filepath.Join(dir, "dst-ready"))
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vu")
	s.mustSend(t, 20)
	stats := h.Stats(testSpec)
	for deadline := time.Now().Add(5 * time.Second); stats.Forwarded < 20 && time.Now().Before(deadline); stats = h.Stats(testSpec) {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("source stats: %+v", stats)
	// At least the 20 test frames (the bed's own frames for the VM, e.g. an
	// ARP request from the client, are forwarded too); the destination
	// checks that exactly the test frames arrived, in order.
	if stats.Forwarded < 20 || stats.DroppedTotal() != 0 {
		t.Fatalf("source stats: %+v", stats)
	}
	for deadline := time.Now().Add(grace + 10*time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok, _ := d.maps.state(keyOf(vmMAC)); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("forward entry still there long after the grace period")
		}
	}
}

// A VM that left this host and is started here again while its entry
// still forwards (within the grace period) gets its traffic: the new tap's
// entry is PASS, and the grace timer of the old one does not remove it.
func TestPrivStartedAgainAfterMove(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	grace := 300 * time.Millisecond
	d, tap, r := childSetup(t, Config{ForwardGrace: grace})
	h := d.Handoff()
	for i, step := range []func() error{
		func() error { return h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.99.2")) },
		func() error { return h.Switchover(ctx, testSpec) },
		func() error { r.close(); return tap.File.SetReadDeadline(time.Time{}) },
		func() error { return h.Resumed(ctx, testSpec, discardStream{}) },
		func() error { return h.Detach(ctx, testSpec) },
	} {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if st, ok, err := d.maps.state(keyOf(vmMAC)); err != nil || !ok || st.Mode != modeForward {
		t.Fatalf("after the move: %+v %v %v", st, ok, err)
	}
	f := openTap(t, "dt1", "br0")
	ifi, err := net.InterfaceByName("dt1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Attach(ctx, testSpec, handoff.Tap{Name: "dt1", Ifindex: ifi.Index, File: f}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * grace)
	st, ok, err := d.maps.state(keyOf(vmMAC))
	if err != nil || !ok || st.Mode != modePass || st.TapIfindex != uint32(ifi.Index) {
		t.Fatalf("started again: %+v %v %v, want PASS on dt1 (ifindex %d)", st, ok, err, ifi.Index)
	}
	r2 := newTapReader(f)
	t.Cleanup(r2.close)
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	s.mustSend(t, 5)
	wantSeq(t, r2.waitFor(t, 5), seqs(tagClient, 1, 5))
}
