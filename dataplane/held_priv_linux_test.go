package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"
)

// bufStream is a flush stream written into a buffer.
type bufStream struct{ bytes.Buffer }

func (*bufStream) Close() error      { return nil }
func (*bufStream) CloseWrite() error { return nil }

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
	d, tap, r := childSetup(t, Config{})
	h := d.Handoff()
	s := newSender(t, os.Getenv("DPT_CLIENT"), "vc")
	if err := h.Begin(ctx, testSpec, netip.MustParseAddr("198.18.0.2")); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 10)
	r.waitFor(t, 10)
	r.close() // the guest stops
	if err := tap.File.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, 5)
	// QEMU takes the first of them and keeps it.
	buf := make([]byte, 2048)
	tap.File.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := tap.File.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	tap.File.SetReadDeadline(time.Time{})
	if _, seq, _ := parseTestFrame(buf[:n]); seq != 11 {
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
	fr := NewFlushReader(&out)
	var got []string
	for {
		o, f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, seq, ok := parseTestFrame(f)
		if !ok {
			continue
		}
		got = append(got, fmt.Sprintf("%s:C%d", o, seq))
	}
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
