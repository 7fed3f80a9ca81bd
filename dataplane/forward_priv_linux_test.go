package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sys/unix"

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
	if err := d.SetTunnelPeers([]netip.Addr{netip.MustParseAddr("198.18.99.1")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dst-ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantSeq(t, r.waitFor(t, 20), seqs(tagClient, 1, 20))
	ctr, err := d.maps.countersOf(keyOf(vmMAC))
	if err != nil || ctr.ForwardedIn < 20 || ctr.DropTunnel != 0 {
		t.Fatalf("forwarded_in %d, drop_tunnel %d (%v), want at least the 20 test frames, none refused",
			ctr.ForwardedIn, ctr.DropTunnel, err)
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

// The destination's tunnel takes frames only from its tunnel peers with the
// hand-off's VNI. Real VXLAN devices send to a destination whose incoming VM
// is in HOLD: from the peer 198.18.99.1 with VNI 0x4e46 (A), from
// 198.18.99.3, not a peer (S), and from the peer with VNI 77 (V). Only the A
// frames reach the tap, in order; the others are dropped and counted as
// "tunnel_refused" (the VM's counters, its migration's account, /metrics).
// Frames for no VM, or for a VM with no tap here, are dropped and counted too.
//
//	peer ns      u1 198.18.99.1  vxa (VNI 0x4e46), vxc (VNI 77) --.
//	stranger ns  u1 198.18.99.3  vxb (VNI 0x4e46) ----------------+-- bridge ul0 198.18.99.2 (host ns: nfhvx0, br0, dt0)
func TestPrivTunnelPeers(t *testing.T) {
	if isChild(t) {
		tunnelPeersDest(t)
		return
	}
	b := newBed(t)
	peer, stranger := b.host+"p", b.host+"s"
	for _, ns := range []string{peer, stranger} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// No IPv6 chatter (router solicitations) through the tunnel.
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	cmds := [][]string{
		{"ip", "-n", b.host, "link", "add", "ul0", "type", "bridge"},
		{"ip", "-n", b.host, "addr", "add", "198.18.99.2/24", "dev", "ul0"},
		{"ip", "-n", b.host, "link", "set", "ul0", "up"},
	}
	for _, h := range []struct{ ns, port, addr string }{{peer, "ulp", "198.18.99.1"}, {stranger, "uls", "198.18.99.3"}} {
		cmds = append(cmds,
			[]string{"ip", "-n", b.host, "link", "add", h.port, "type", "veth", "peer", "name", "u1", "netns", h.ns},
			[]string{"ip", "-n", b.host, "link", "set", h.port, "master", "ul0", "up"},
			[]string{"ip", "-n", h.ns, "addr", "add", h.addr + "/24", "dev", "u1"},
			[]string{"ip", "-n", h.ns, "link", "set", "u1", "up"},
		)
	}
	for _, vx := range []struct{ ns, dev, vni, local string }{
		{peer, "vxa", fmt.Sprint(VNI), "198.18.99.1"},
		{peer, "vxc", "77", "198.18.99.1"},
		{stranger, "vxb", fmt.Sprint(VNI), "198.18.99.3"},
	} {
		cmds = append(cmds,
			[]string{"ip", "-n", vx.ns, "link", "add", vx.dev, "type", "vxlan", "id", vx.vni, "local", vx.local,
				"remote", "198.18.99.2", "dstport", fmt.Sprint(DefaultTunnelPort)},
			[]string{"ip", "-n", vx.ns, "link", "set", vx.dev, "up"},
		)
	}
	for _, c := range cmds {
		run(t, c...)
	}
	waitPortForwarding(t, b.host, "ulp")
	waitPortForwarding(t, b.host, "uls")
	waitPing(t, peer, "198.18.99.2") // the underlay transmits; the neighbour is resolved
	waitPing(t, stranger, "198.18.99.2")
	runChild(t, b.host, append(bedEnv(b), "DPT_PEER="+peer, "DPT_STRANGER="+stranger)...)
}

func tunnelPeersDest(t *testing.T) {
	ctx := context.Background()
	d, _, r := childSetup(t, Config{})
	h := d.Handoff()
	if err := d.SetTunnelPeers([]netip.Addr{netip.MustParseAddr("198.18.99.1")}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetTunnelPeers([]netip.Addr{netip.MustParseAddr("2001:db8::1")}); err == nil {
		t.Fatal("an IPv6 tunnel peer was taken")
	}
	if err := h.Prepare(ctx, testSpec); err != nil { // an incoming VM: HOLD
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(d.Collector()); err != nil {
		t.Fatal(err)
	}
	noTapMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02} // a VM known here, its tap elsewhere
	if err := d.maps.putState(keyOf(noTapMAC), vmState{Mode: modePass}); err != nil {
		t.Fatal(err)
	}
	unknownMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
	allowed := newSender(t, os.Getenv("DPT_PEER"), "vxa")
	wrongVNI := newSender(t, os.Getenv("DPT_PEER"), "vxc")
	notPeer := newSender(t, os.Getenv("DPT_STRANGER"), "vxb")

	const n = 10
	sendTagged(t, notPeer, vmMAC, 'S', n)
	sendTagged(t, wrongVNI, vmMAC, 'V', n)
	sendTagged(t, notPeer, unknownMAC, 'S', 1)
	sendTagged(t, allowed, unknownMAC, 'A', 1)
	sendTagged(t, allowed, noTapMAC, 'A', 1)
	sendTagged(t, allowed, vmMAC, 'A', n)

	waitCaptured(t, d, n) // the A frames, held
	var ctr, noTap vmCounters
	var drops tunnelCounters
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var err error
		if ctr, err = d.maps.countersOf(keyOf(vmMAC)); err != nil {
			t.Fatal(err)
		}
		if noTap, err = d.maps.countersOf(keyOf(noTapMAC)); err != nil {
			t.Fatal(err)
		}
		if drops, err = d.maps.tunnelDropCounts(); err != nil {
			t.Fatal(err)
		}
		done := ctr.DropTunnel >= 2*n && ctr.ForwardedIn >= n && noTap.DropNoTap >= 1 && drops.Refused+drops.NoVm >= 2
		if done || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("vm counters %+v; no-tap vm %+v; tunnel drops for no VM %+v", ctr, noTap, drops)
	// Held and released count the bed's own frames that reach the tap
	// through br0 too (its interfaces sometimes send one as they come up):
	// at least the A frames.
	if ctr.DropTunnel != 2*n || ctr.ForwardedIn != n || ctr.Held < n {
		t.Errorf("vm counters: drop_tunnel %d, forwarded_in %d, held %d; want %d, %d, at least %d",
			ctr.DropTunnel, ctr.ForwardedIn, ctr.Held, 2*n, n, n)
	}
	if noTap.DropNoTap != 1 || noTap.DropTunnel != 0 || noTap.ForwardedIn != 0 {
		t.Errorf("no-tap vm counters %+v: want drop_no_tap 1", noTap)
	}
	if drops.Refused != 1 || drops.NoVm != 1 {
		t.Errorf("tunnel drops %+v: want 1 refused, 1 for no VM", drops)
	}

	if err := h.Flushed(ctx, testSpec, nil); err != nil { // HOLD released into the tap
		t.Fatal(err)
	}
	wantSeq(t, r.waitFor(t, n), seqs('A', 1, n))
	s := h.Stats(testSpec)
	t.Logf("destination stats: %+v", s)
	if s.Dropped[dropTunnel] != 2*n || s.ForwardedIn != n || s.Released < n || s.DroppedTotal() != 2*n {
		t.Errorf("stats %+v: want dropped tunnel_refused %d and nothing else, forwarded_in %d, released at least %d", s, 2*n, n, n)
	}
	compare(t, reg, "nfh_dataplane_drops_total", "Frames the eBPF programs dropped for a VM (mirror_missed: copy failed, frame passed), by reason.", "counter", "reason",
		map[string]int{"tunnel_refused": 2 * n}, "ring_full", "mirror_missed", "too_large", "forward", "no_tap", "tunnel_refused")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP nfh_dataplane_tunnel_drops_total Frames from the tunnel dropped that were for no VM of this host, by reason (tunnel_refused: not from a tunnel peer or another VNI; no_vm: from a peer).
# TYPE nfh_dataplane_tunnel_drops_total counter
nfh_dataplane_tunnel_drops_total{reason="no_vm"} 1
nfh_dataplane_tunnel_drops_total{reason="tunnel_refused"} 1
`), "nfh_dataplane_tunnel_drops_total"); err != nil {
		t.Error(err)
	}
	// Nothing else came out of the tap.
	time.Sleep(50 * time.Millisecond)
	wantSeq(t, r.frames(), seqs('A', 1, n))
}

// sendTagged sends n test frames to dst from s, tagged tag, numbered 1..n.
func sendTagged(t *testing.T, s *sender, dst net.HardwareAddr, tag byte, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := unix.Sendto(s.fd, testFrame(dst, tag, i), 0, &unix.SockaddrLinklayer{Ifindex: s.ifi, Halen: 6}); err != nil {
			t.Fatalf("sending %c%d: %v", tag, i, err)
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
