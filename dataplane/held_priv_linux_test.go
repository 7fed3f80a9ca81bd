package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// bufStream is a flush stream written into a buffer.
type bufStream struct{ bytes.Buffer }

func (*bufStream) Close() error      { return nil }
func (*bufStream) CloseWrite() error { return nil }

// flushedTestFrames reads a flush stream to its end and returns its test
// frames as "origin:C<seq>", in order.
func flushedTestFrames(t *testing.T, out *bufStream) []string {
	t.Helper()
	fr := frame.NewFlushReader(out)
	var got []string
	for {
		o, f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, seq, ok := parseTestFrame(f); ok {
			got = append(got, fmt.Sprintf("%s:C%d", o, seq))
		}
	}
}

// qemuTakes reads the tap as QEMU does once the guest stopped: it takes the
// next frame and keeps it. A frame of the bed itself (not a test frame)
// ahead of it is read past. It returns the test frame's sequence number.
func qemuTakes(t *testing.T, tap handoff.Tap) int {
	t.Helper()
	buf := make([]byte, 2048)
	defer tap.File.SetReadDeadline(time.Time{})
	for {
		tap.File.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := tap.File.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, seq, ok := parseTestFrame(buf[:n]); ok {
			return seq
		}
	}
}

// mirroring (in a child) sets up the dataplane on the bed's tap, a sender
// in the client namespace, and begins a migration (MIRROR).
func mirroring(ctx context.Context, t *testing.T) (*Dataplane, handoff.Tap, *tapReader, *Handoff, *sender) {
	t.Helper()
	d, tap, r, h, s := childHandoff(t, Config{})
	if err := h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	return d, tap, r, h, s
}

// The guest stops; "QEMU" reads one more frame and holds it (as QEMU 7.2's
// tap backend does), the rest stays in the tap. The flush carries, in
// order: the held frame (recovered from the MIRROR copies), the residue,
// the buffer.
func TestPrivHeldFrameFlush(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, tap, r, h, s := mirroring(ctx, t)
	s.mustSend(t, 10)
	r.waitFor(t, 10)
	r.close() // the guest stops
	if err := tap.File.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 5)
	// QEMU takes the first of them and keeps it.
	if seq := qemuTakes(t, tap); seq != 11 {
		t.Fatalf("QEMU took frame %d, want 11", seq)
	}
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 10)
	waitCaptured(t, d, 25)
	var out bufStream
	if err := h.Resumed(ctx, testSpec, &out); err != nil {
		t.Fatal(err)
	}
	got := flushedTestFrames(t, &out)
	want := []string{"held:C11"}
	for i := 12; i <= 15; i++ {
		want = append(want, fmt.Sprintf("residue:C%d", i))
	}
	for i := 16; i <= 25; i++ {
		want = append(want, fmt.Sprintf("buffered:C%d", i))
	}
	wantSeq(t, got, want)
	st := h.Stats(testSpec)
	t.Logf("stats: %+v", st)
	if st.HeldInQEMU != 1 || st.Residue != 4 || st.Flushed != 15 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// Quiesce with the guest running: BUFFER first, and it returns once "QEMU"
// has read everything in the tap; the guest then stops with nothing in
// QEMU's hands, so the flush carries only the buffer (no held frame, no
// residue) and nothing is lost.
func TestPrivQuiesceDrainsTap(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, _, r, h, s := mirroring(ctx, t)
	s.mustSend(t, 10)
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := h.Quiesce(qctx, testSpec)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 10) // all 10 reached the guest
	r.close()        // the agent stops the guest
	s.mustSend(t, 5)
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	waitCaptured(t, d, 15)
	var out bufStream
	if err := h.Resumed(ctx, testSpec, &out); err != nil {
		t.Fatal(err)
	}
	got := flushedTestFrames(t, &out)
	var want []string
	for i := 11; i <= 15; i++ {
		want = append(want, fmt.Sprintf("buffered:C%d", i))
	}
	wantSeq(t, got, want)
	st := h.Stats(testSpec)
	// (Other frames of the bed, e.g. neighbour discovery, may be buffered too.)
	if st.HeldInQEMU != 0 || st.Residue != 0 || st.Buffered < 5 || st.Flushed != st.Buffered || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// Quiesce while "QEMU" holds a frame and reads no more (its queue towards
// a guest that stopped taking frames): it fails, saying how many frames are
// unread, and leaves the VM in BUFFER; Switchover's detection then
// recovers the held frame and the residue, in order.
func TestPrivQuiesceUnread(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, tap, r, h, s := mirroring(ctx, t)
	r.close()
	if err := tap.File.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 3)
	if seq := qemuTakes(t, tap); seq != 1 { // QEMU takes C1 and keeps it
		t.Fatalf("QEMU took frame %d, want 1", seq)
	}
	got := quiesceFailsFlush(ctx, t, d, h, s, "frames still unread")
	wantSeq(t, got, []string{"held:C1", "residue:C2", "residue:C3", "buffered:C4", "buffered:C5"})
	st := h.Stats(testSpec)
	if st.HeldInQEMU != 1 || st.Residue < 2 || st.Buffered < 2 || st.Flushed != 1+st.Residue+st.Buffered || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// A libvirt guest's tap (the agent did not open it, no ring to ask QEMU
// about): "QEMU" has read every frame but holds the last one for a full
// receive ring. The tap drained proves nothing then: Quiesce's probe is
// not read, Quiesce fails, and Switchover's detection recovers the held
// frame first in the flush (the probes left in the tap are not flushed).
func TestPrivQuiesceForeignHeld(t *testing.T) {
	if !isChild(t) {
		b := newBed(t)
		runChild(t, b.host, bedEnv(b)...)
		return
	}
	ctx := context.Background()
	d, tap, r, h, s := mirroring(ctx, t)
	v, err := h.lookup(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	v.tap.File = nil // as Attach of a libvirt guest's tap leaves it
	v.mu.Unlock()
	r.close()
	s.mustSend(t, 3)
	for want := 1; want <= 3; want++ { // QEMU reads all three, delivers two, holds C3
		if seq := qemuTakes(t, tap); seq != want {
			t.Fatalf("QEMU took frame %d, want %d", seq, want)
		}
	}
	got := quiesceFailsFlush(ctx, t, d, h, s, "did not read a probe")
	wantSeq(t, got, []string{"held:C3", "buffered:C4", "buffered:C5"})
	if st := h.Stats(testSpec); st.HeldInQEMU != 1 || st.DroppedTotal() != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// quiesceFailsFlush: with 3 client frames sent and QEMU holding one,
// Quiesce fails with an error containing why; 2 more frames are sent and
// buffered, the guest stops (Switchover) and resumes elsewhere: the
// flushed frames.
func quiesceFailsFlush(ctx context.Context, t *testing.T, d *Dataplane, h *Handoff, s *sender, why string) []string {
	t.Helper()
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := h.Quiesce(qctx, testSpec)
	cancel()
	if err == nil || !strings.Contains(err.Error(), why) {
		t.Fatalf("Quiesce: %v, want %q", err, why)
	}
	s.mustSend(t, 2)
	waitCaptured(t, d, 5)
	if err := h.Switchover(ctx, testSpec); err != nil {
		t.Fatal(err)
	}
	var out bufStream
	if err := h.Resumed(ctx, testSpec, &out); err != nil {
		t.Fatal(err)
	}
	return flushedTestFrames(t, &out)
}
