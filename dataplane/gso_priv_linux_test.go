package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
)

// parseTCPSegment names a TCP/IPv4 frame the tap delivered "T<seq>+<payload
// bytes>" if its IP packet fits a 1500-byte MTU and its checksums are
// right, "BAD..." otherwise.
func parseTCPSegment(b []byte) (string, bool) {
	if len(b) < 54 || binary.BigEndian.Uint16(b[12:]) != 0x0800 || b[14+9] != 6 {
		return "", false
	}
	ip := b[14:]
	total := int(binary.BigEndian.Uint16(ip[2:]))
	tcp := ip[20:total]
	thl := int(tcp[12]>>4) * 4
	name := fmt.Sprintf("T%d+%d", binary.BigEndian.Uint32(tcp[4:]), len(tcp)-thl)
	if total > 1500 || !tcpChecksumsOK(ip[:total]) {
		name = "BAD" + name
	}
	return name, true
}

func tcpChecksumsOK(ip []byte) bool {
	sum := func(b []byte) uint32 {
		var s uint32
		for ; len(b) >= 2; b = b[2:] {
			s += uint32(b[0])<<8 | uint32(b[1])
		}
		if len(b) == 1 {
			s += uint32(b[0]) << 8
		}
		return s
	}
	fold := func(s uint32) uint16 {
		for s>>16 != 0 {
			s = s&0xffff + s>>16
		}
		return uint16(s)
	}
	return fold(sum(ip[:20])) == 0xffff && fold(sum(ip[12:20])+6+uint32(len(ip)-20)+sum(ip[20:])) == 0xffff
}

// gsoSender sends TCP/IPv4 frames to vmMAC as GSO packets (a virtio-net
// header with gso_size through PACKET_VNET_HDR, as a guest's or the stack's
// TSO makes them) from the client netns's vc: the bridge hands the tap one
// skb of up to 64 KiB, which the kernel segments only after the tc hook.
type gsoSender struct {
	fd, ifi int
	seq     uint32
}

const gsoMSS = 1448

func newGSOSender(t *testing.T) *gsoSender {
	t.Helper()
	fd, ifi := packetSocket(t, os.Getenv("DPT_CLIENT"), "vc", true)
	return &gsoSender{fd: fd, ifi: ifi, seq: 1000}
}

// send sends one GSO packet of n payload bytes (the next sequence numbers).
func (g *gsoSender) send(t *testing.T, n int) {
	t.Helper()
	const ihl, thl = 20, 20
	f := make([]byte, 14+ihl+thl+n)
	copy(f[0:], vmMAC)
	copy(f[6:], clientMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(ihl+thl+n))
	copy(ip[12:], []byte{198, 18, 7, 2, 198, 18, 7, 10})
	tcp := ip[ihl:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], g.seq)
	tcp[12], tcp[13] = thl/4<<4, 0x18 // ACK PSH
	for i := range n {
		tcp[thl+i] = byte(i)
	}
	// The IPv4 checksum is the stack's job before GSO; the TCP one is left
	// partial (the pseudo-header sum), as with checksum offload.
	var s uint32
	for i := 0; i < ihl; i += 2 {
		s += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(s))
	ps := (198<<8 | 18) + (7<<8 | 2) + (198<<8 | 18) + (7<<8 | 10) + 6 + uint32(thl+n)
	for ps>>16 != 0 {
		ps = ps&0xffff + ps>>16
	}
	binary.BigEndian.PutUint16(tcp[16:], uint16(ps))
	// struct virtio_net_hdr: flags NEEDS_CSUM, gso_type TCPV4, hdr_len,
	// gso_size, csum_start, csum_offset (host order, little endian here).
	vh := make([]byte, 10)
	vh[0], vh[1] = 1, 1
	binary.LittleEndian.PutUint16(vh[2:], uint16(14+ihl+thl))
	binary.LittleEndian.PutUint16(vh[4:], gsoMSS)
	binary.LittleEndian.PutUint16(vh[6:], uint16(14+ihl))
	binary.LittleEndian.PutUint16(vh[8:], 16)
	if err := unix.Sendto(g.fd, append(vh, f...), 0, &unix.SockaddrLinklayer{Ifindex: g.ifi, Halen: 6}); err != nil {
		t.Fatalf("sending a GSO packet: %v", err)
	}
	g.seq += uint32(n)
}

// segments are the names parseTCPSegment gives the segments of n payload
// bytes from seq on, cut at mss.
func segments(seq uint32, n, mss int) []string {
	var out []string
	for off := 0; off < n; off += mss {
		out = append(out, fmt.Sprintf("T%d+%d", seq+uint32(off), min(mss, n-off)))
	}
	return out
}

// GSO frames (a TCP stream's 64 KiB packets, as a sender's TSO or GRO on
// the way in makes them) captured in BUFFER are captured whole and go back
// into the tap as MTU-sized segments with right checksums, in order, on a
// rollback; a move flushes them as segments too. Nothing is dropped as too
// large.
func TestPrivGSOBufferedSegmented(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, r, h, s := childHandoff(t, Config{})
	g := newGSOSender(t)
	sizes := []int{4000, 1000, 30000}
	if err := h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	r.pause(true)
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range sizes {
		want = append(want, segments(g.seq, n, 1500-40)...)
		g.send(t, n)
	}
	waitCaptured(t, d, uint64(len(sizes)))
	r.pause(false)
	if err := h.Rollback(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	wantSeq(t, r.waitFor(t, len(want)), want)
	st := h.Stats(testSpec)
	t.Logf("rollback stats: %+v", st)
	if st.Buffered != uint64(len(sizes)) || st.Returned != uint64(len(sizes)) || st.DroppedTotal() != 0 {
		t.Fatalf("stats %+v: want %d buffered and returned, nothing dropped", st, len(sizes))
	}

	// The release ends (PASS on the next frame) before the next move.
	waitMode(t, d, modePass, func() { s.send(1) })
	v := d.handoff.byKey(keyOf(vmMAC))
	waitFor(t, "the release to end", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.release.done == nil
	})

	// A move: the flush carries the segments.
	if err := h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	r.pause(true)
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	captured, _ := d.maps.capturedOf(keyOf(vmMAC))
	want = segments(g.seq, 20000, 1500-40)
	g.send(t, 20000)
	waitCaptured(t, d, captured+1)
	var out bufStream
	if err := h.Resumed(ctx, testSpec, &out); err != nil {
		t.Fatal(err)
	}
	fr := frame.NewFlushReader(bytes.NewReader(out.Bytes()))
	var got []string
	for {
		_, b, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if name, ok := parseTCPSegment(b); ok {
			got = append(got, name)
		}
	}
	wantSeq(t, got, want)
	// (plus a frame of the pokes, if the held-frame detection found one
	// the paused reader had taken)
	if st := h.Stats(testSpec); st.Flushed != uint64(len(want))+st.HeldInQEMU || st.DroppedTotal() != 0 {
		t.Fatalf("stats %+v: want %d frames flushed, nothing dropped", st, len(want))
	}
}

// waitFor waits up to 5 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
