package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// A VM with two NICs: NIC 0 (vmMAC) on br0 as in every other test, NIC 1
// on a second network, br1, whose client end is vc1 in the client netns.
var (
	vmMAC1      = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	clientMAC1  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc2}
	twoNICsSpec = api.VMSpec{
		Name: testSpec.Name, MAC: testSpec.MAC, Address: testSpec.Address,
		NICs: []api.NIC{{MAC: vmMAC1.String(), Address: "198.18.8.10/24"}},
	}
)

// addSecondNetwork adds br1 to the bed's host with a veth vb1/vc1 to its
// client.
func addSecondNetwork(t *testing.T, b *bed) {
	t.Helper()
	run(t, "ip", "-n", b.host, "link", "add", "br1", "type", "bridge")
	run(t, "ip", "-n", b.host, "link", "set", "br1", "up")
	run(t, "ip", "-n", b.host, "link", "add", "vb1", "type", "veth", "peer", "name", "vc1", "netns", b.client)
	run(t, "ip", "-n", b.host, "link", "set", "vb1", "master", "br1", "up")
	run(t, "ip", "-n", b.client, "link", "set", "vc1", "address", clientMAC1.String(), "up")
	waitPortForwarding(t, b.host, "vb1")
}

// nicSide is one NIC of the child's two-NIC VM: its tap, the reader
// standing in for QEMU, and a client sending to its MAC on its network.
type nicSide struct {
	mac net.HardwareAddr
	tap handoff.Tap
	r   *tapReader
	s   *sender
}

// childTwoNICs (in a child) makes the dataplane and the VM's taps dt0 (br0)
// and dt1 (br1), attached when attach is set (a destination attaches after
// Prepare, as the agent does).
func childTwoNICs(t *testing.T, attach bool) (*Dataplane, *Handoff, [2]*nicSide) {
	t.Helper()
	d, err := New(context.Background(), Config{PinDir: filepath.Join(os.Getenv("DPT_BPFFS"), "host"), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var sides [2]*nicSide
	for i, n := range []struct {
		tap, br, client string
		mac             net.HardwareAddr
	}{{"dt0", "br0", "vc", vmMAC}, {"dt1", "br1", "vc1", vmMAC1}} {
		f := openTap(t, n.tap, n.br)
		ifi, err := net.InterfaceByName(n.tap)
		if err != nil {
			t.Fatal(err)
		}
		s := newSender(t, os.Getenv("DPT_CLIENT"), n.client)
		s.dst = n.mac
		r := newTapReader(f)
		t.Cleanup(r.close)
		sides[i] = &nicSide{mac: n.mac, tap: handoff.Tap{NIC: i, Name: n.tap, Ifindex: ifi.Index, File: f}, r: r, s: s}
	}
	if attach {
		attachAll(t, d.Handoff(), sides)
	}
	return d, d.Handoff(), sides
}

func attachAll(t *testing.T, h *Handoff, sides [2]*nicSide) {
	t.Helper()
	for _, n := range sides {
		if err := h.Attach(context.Background(), twoNICsSpec, n.tap); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCapturedOf waits until the program has captured n frames for mac.
func waitCapturedOf(t *testing.T, d *Dataplane, mac net.HardwareAddr, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if c, _ := d.maps.capturedOf(keyOf(mac)); c >= n {
			return
		}
	}
	c, _ := d.maps.capturedOf(keyOf(mac))
	t.Fatalf("%s: captured %d, want %d", mac, c, n)
}

// waitModeOf waits until the entry of mac is in mode m.
func waitModeOf(t *testing.T, d *Dataplane, mac net.HardwareAddr, m mode) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, ok, err := d.maps.state(keyOf(mac)); err == nil && ok && st.Mode == m {
			return
		}
	}
	t.Fatalf("%s never reached mode %s", mac, m)
}

// sectionStream is a flush stream with one section per NIC: NIC i carries
// flush frames 1..counts[i] for its MAC.
func sectionStream(counts ...int) pipeStream {
	macs := []net.HardwareAddr{vmMAC, vmMAC1}
	pr, pw := io.Pipe()
	go func() {
		for nic, n := range counts {
			w := frame.NewFlushWriter(pw, nic)
			for i := 1; i <= n; i++ {
				if err := w.WriteFrame(frame.OriginBuffered, testFrame(macs[nic], tagFlush, i)); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			if err := w.Close(); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	return pipeStream{pr}
}

// Destination of a two-NIC VM: both NICs held, then Flushed with a section
// per NIC while both clients keep sending: each tap sees its own flushed
// frames, then every one of its client's frames, in order, none lost.
func TestPrivTwoNICsHoldFlushRelease(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		addSecondNetwork(t, b)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, h, sides := childTwoNICs(t, false)
	if err := h.Prepare(ctx, twoNICsSpec); err != nil {
		t.Fatal(err)
	}
	attachAll(t, h, sides)
	for i, n := range sides {
		n.s.mustSend(t, 10+i*5)
		waitCapturedOf(t, d, n.mac, uint64(10+i*5))
	}
	for _, n := range sides {
		if got := n.r.frames(); len(got) != 0 {
			t.Fatalf("frames reached %s during HOLD: %v", n.tap.Name, got)
		}
	}
	var stops [2]func() int
	for i, n := range sides {
		stops[i] = n.s.background(t, 300*time.Microsecond)
	}
	if err := h.Flushed(ctx, twoNICsSpec, sectionStream(3, 4)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // more traffic after the release
	for i, n := range sides {
		waitModeOf(t, d, n.mac, modePass)
		last := stops[i]()
		want := append(seqs(tagFlush, 1, 3+i), seqs(tagClient, 1, last)...)
		wantSeq(t, n.r.waitFor(t, len(want)), want)
	}
	st := h.Stats(twoNICsSpec)
	t.Logf("stats: %+v", st)
	if len(st.NICs) != 2 || st.Flushed != 7 || st.NICs[0].Flushed != 3 || st.NICs[1].Flushed != 4 ||
		st.Released != st.Held || st.NICs[1].Released < 15 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// Source of a two-NIC VM: MIRROR, the guest stops, BUFFER on both NICs,
// then Rollback after the guest resumed, both clients still sending:
// every frame reaches its tap once, in order. Then a second move that
// goes through: Resumed writes each NIC's buffered frames in its section.
func TestPrivTwoNICsBufferRollbackResumed(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		addSecondNetwork(t, b)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	peer := netip.MustParseAddr("198.18.0.2")
	d, h, sides := childTwoNICs(t, true)
	if err := h.Begin(ctx, twoNICsSpec, peer); err != nil {
		t.Fatal(err)
	}
	for _, n := range sides {
		n.s.mustSend(t, 10)
		n.r.waitFor(t, 10)
		n.r.pause(true)
		n.s.mustSend(t, 3) // residue: stays in the tap queue
	}
	if err := h.Switchover(ctx, twoNICsSpec); err != nil {
		t.Fatal(err)
	}
	for _, n := range sides {
		n.s.mustSend(t, 10) // buffered
		waitCapturedOf(t, d, n.mac, 23)
	}
	var stops [2]func() int
	for i, n := range sides {
		n.r.pause(false) // the guest runs again at the source
		stops[i] = n.s.background(t, 300*time.Microsecond)
	}
	if err := h.Rollback(ctx, twoNICsSpec); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	for i, n := range sides {
		waitModeOf(t, d, n.mac, modePass)
		last := stops[i]()
		wantSeq(t, n.r.waitFor(t, last), seqs(tagClient, 1, last))
	}
	st := h.Stats(twoNICsSpec)
	t.Logf("rollback stats: %+v", st)
	for i, s := range st.NICs {
		if s.Buffered < 10 || s.Returned < 10 || s.DroppedTotal() != 0 {
			t.Fatalf("nic %d: stats %+v", i, s)
		}
	}

	// The move that goes through.
	if err := h.Begin(ctx, twoNICsSpec, peer); err != nil {
		t.Fatal(err)
	}
	var sent [2]int
	var captured [2]uint64
	for i, n := range sides {
		n.r.pause(true)
		sent[i] = n.s.seq
		captured[i], _ = d.maps.capturedOf(keyOf(n.mac))
	}
	if err := h.Switchover(ctx, twoNICsSpec); err != nil {
		t.Fatal(err)
	}
	for i, n := range sides {
		n.s.mustSend(t, 5+i)
		waitCapturedOf(t, d, n.mac, captured[i]+uint64(5+i))
	}
	var out bufStream
	if err := h.Resumed(ctx, twoNICsSpec, &out); err != nil {
		t.Fatal(err)
	}
	rs := frame.NewFlushReaders(bytes.NewReader(out.Bytes()), 2)
	for i, n := range sides {
		var got []string
		for {
			_, b, err := rs[i].Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("nic %d section: %v", i, err)
			}
			tag, seq, ok := parseTestFrame(b)
			if !ok {
				continue // the hosts' own chatter (IGMP) flooded to the taps
			}
			if !bytes.Equal(b[:6], n.mac) {
				t.Fatalf("nic %d section carries a frame for %s", i, net.HardwareAddr(b[:6]))
			}
			got = append(got, fmt.Sprintf("%c%d", tag, seq))
		}
		wantSeq(t, got, seqs(tagClient, sent[i]+1, sent[i]+5+i))
	}
}
