package prefetch

import (
	"bytes"
	"context"
	"maps"
	"testing"
	"time"
)

// Every request is checked against the blocks; a bad range is refused
// whole and counted by why.
func TestValidation(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.plan(testBlocks, []Range{
		{"pc.ram", 0, 0x2000},               // good: 2 pages
		{"nope", 0, 0x1000},                 // unknown block
		{"pc.ram", 0x800, 0x1000},           // misaligned start
		{"pc.ram", 0, 0x1800},               // misaligned length
		{"mem1", 0x1000, 2 << 20},           // not in its 2 MiB pages
		{"pc.ram", 64<<20 - 0x1000, 0x2000}, // past the used length
		{"pc.ram", 1 << 63, 1 << 63},        // wraps around
		{"vga.vram", 0x1000, 0},             // empty
		{"mem1", 2 << 20, 4 << 20},          // good: 2 huge pages
	})
	for tr.pump() { // a 2 MiB page is more than the window: one at a time
		tr.Observe(1 << 30)
	}
	want := map[string]int64{RefusedUnknownBlock: 1, RefusedMisaligned: 1 + 2 + 512, RefusedOutOfRange: 2 + 1<<51, RefusedEmpty: 0}
	st := tr.Stats()
	if !maps.Equal(st.Refused, want) {
		t.Errorf("refused %v, want %v", st.Refused, want)
	}
	// mem1's chunk is one 2 MiB page (more than 16 target pages).
	if st.Requests != 3 || st.Pages != 2+1024 || st.Planned != st.Pages {
		t.Errorf("stats %+v", st)
	}
	tr.check(t, nil)
}

// At most a window of injected pages waits unserved at the source; a
// chunk counts as served once the main channel has carried its bytes.
func TestWindow(t *testing.T) {
	tr := newTraced(t, Config{Window: 256 << 10, ChunkPages: 16})
	tr.Observe(5000) // before injection: not service
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 1 << 20}})
	chunk := int64(16 * pageWire)
	steps := []struct {
		observe  int
		requests int64
	}{
		{0, 3},   // 3 chunks fit in 256 KiB, 4 do not
		{511, 3}, // 3 chunks less 511 bytes out: one more would overflow by a byte
		{1, 4},
		{int(3 * chunk), 7},
		{1 << 30, 10},
		{1 << 30, 13},
	}
	for i, s := range steps {
		tr.Observe(s.observe)
		tr.pump()
		if got := tr.Stats().Requests; got != s.requests {
			t.Fatalf("step %d: %d requests, want %d", i, got, s.requests)
		}
		if o := tr.outstanding(); o > tr.cfg.Window {
			t.Fatalf("step %d: %d bytes outstanding", i, o)
		}
	}
	tr.Observe(1 << 30)
	if tr.pump() {
		t.Fatal("pump wants more after the last range")
	}
	if st := tr.Stats(); st.Pages != 256 || st.Requests != 16 || st.Stopped != "" {
		t.Fatalf("stats %+v", st)
	}
}

// Injection runs on its own when the destination says nothing, paced by
// Observe, and ends with the context.
func TestStartInjectsAlone(t *testing.T) {
	in, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var qemu syncBuffer
	in.Attach(&qemu)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in.Start(ctx, testBlocks, []Range{{"pc.ram", 0, 4 << 20}})
	deadline := time.Now().Add(10 * time.Second)
	for in.Stats().Pages < 1024 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", in.Stats())
		}
		in.Observe(64 << 10)
		time.Sleep(time.Millisecond)
	}
	if n := len(splitMessages(t, qemu.Bytes())); n != 64 {
		t.Fatalf("%d messages, want 64", n)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{Window: 1000}, nil); err == nil {
		t.Error("a window under one chunk accepted")
	}
	if _, err := New(Config{ChunkPages: -1}, nil); err == nil {
		t.Error("a negative chunk accepted")
	}
}

// QEMU skips the clean pages of a request and sends the next dirty one: a
// page record of a later request frees the window of the earlier ones at
// once, where the byte model would wait for their pages' worth of bytes.
func TestSentFreesWindow(t *testing.T) {
	tr := newTraced(t, Config{}) // two chunks of 16 pages
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 1 << 20}})
	tr.pump()
	if n := tr.Stats().Requests; n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	tr.Sent("vga.vram", 16*TargetPage) // another block's page: the background scan
	tr.Sent("pc.ram", 1<<20)           // not asked for
	tr.pump()
	if n := tr.Stats().Requests; n != 2 {
		t.Fatalf("%d requests after pages of no request, want 2", n)
	}
	// The first chunk was clean; the second's first page went.
	tr.Sent("pc.ram", 16*TargetPage)
	tr.pump()
	if n, o := tr.Stats().Requests, tr.outstanding(); n != 3 || o != (15+16)*pageWire {
		t.Fatalf("%d requests, %d bytes outstanding; want 3, %d", n, o, (15+16)*pageWire)
	}
	// A fault holds injection back until its page is sent.
	tr.Write(reqPagesID("pc.ram", 0x80000, TargetPage))
	tr.Sent("pc.ram", 47*TargetPage) // the third chunk's last page: all three served
	tr.pump()
	if n := tr.Stats().Requests; n != 3 {
		t.Fatalf("%d requests injected behind a fault", n)
	}
	tr.Sent("pc.ram", 0x80000)
	tr.pump()
	if st := tr.Stats(); st.Requests != 5 || st.Sent != 2 {
		t.Fatalf("stats %+v: want 5 requests, 2 injected pages sent", st)
	}
	if tr.Observe(1 << 30); tr.outstanding() != 0 {
		t.Fatal("the byte model no longer bounds the wait")
	}
}

// With QEMU's discards known, only pages still to be sent are asked for
// (a page the background scan sent meanwhile is not), and the window
// counts exactly those not sent yet.
func TestDiscardAsksOnlyDirty(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.Discard("pc.ram", 0x4000, 0x3000) // pages 4-6
	tr.Discard("pc.ram", 0x10000, 0x1000)
	tr.Discard("mem1", 0, 2<<20) // huge pages: asked for as planned
	tr.Sent("pc.ram", 0x5000)    // by the background scan, before injection
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 0x20000}, {"mem1", 2 << 20, 2 << 20}})
	tr.pump()
	want := [][]byte{reqPagesID("pc.ram", 0x4000, 0x1000), reqPagesID("pc.ram", 0x6000, 0x1000),
		reqPagesID("pc.ram", 0x10000, 0x1000)}
	got := splitMessages(t, tr.out.Bytes())
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("request %d: %x, want %x", i, got[i], want[i])
		}
	}
	if st := tr.Stats(); st.Pages != 3 || st.Clean != 29 {
		t.Errorf("stats %+v: want 3 pages asked, 29 clean", st)
	}
	if o := tr.outstanding(); o != 3*pageWire {
		t.Fatalf("%d bytes outstanding, want 3 pages", o)
	}
	tr.Sent("pc.ram", 0x10000) // out of order: the background scan's
	if o := tr.outstanding(); o != 2*pageWire {
		t.Fatalf("%d bytes outstanding, want 2 pages", o)
	}
	tr.Observe(1 << 30) // bytes alone serve nothing now
	if o := tr.outstanding(); o != 2*pageWire {
		t.Fatalf("%d bytes outstanding after bytes, want 2 pages", o)
	}
	tr.Sent("pc.ram", 0x4000)
	tr.Sent("pc.ram", 0x6000)
	if o := tr.outstanding(); o != 0 {
		t.Fatalf("%d bytes outstanding, want none", o)
	}
	tr.pump() // mem1's 2 MiB page: more than the window, alone
	if st := tr.Stats(); st.Pages != 3+512 || st.Sent != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestDirtySet(t *testing.T) {
	var d dirtySet
	if d.known() {
		t.Fatal("known before a discard")
	}
	d.add("a", 0x3000, 0x42000) // pages 3..68
	d.clear("a", 0x5000)
	if s, e, ok := d.next("a", 0, 1<<20); !ok || s != 0x3000 || e != 0x5000 {
		t.Errorf("next %#x-%#x %v", s, e, ok)
	}
	if s, e, ok := d.next("a", 0x5000, 0x10000); !ok || s != 0x6000 || e != 0x10000 {
		t.Errorf("next %#x-%#x %v", s, e, ok)
	}
	if _, _, ok := d.next("a", 0x45000, 1<<40); ok {
		t.Error("a page past the discards")
	}
	if n := d.count("a", 0, 1<<20); n != 65 {
		t.Errorf("count %d, want 65", n)
	}
	d.add("b", 1<<62, 1<<62) // past any RAM: no longer trusted
	if d.known() {
		t.Error("known after an impossible discard")
	}
}

// Two of the destination's requests in a row, the second a little after
// the first, put the dirty pages after the second ahead of the plan, even
// while the second waits.
func TestReadaheadAfterSequentialFaults(t *testing.T) {
	tr := newTraced(t, Config{ChunkPages: 4, Window: 64 * pageWire})
	tr.Discard("pc.ram", 0, 32<<20)
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 0x10000}})
	tr.pump() // the plan's 16 pages
	for p := uint64(0); p < 16; p++ {
		tr.Sent("pc.ram", p*TargetPage)
	}
	tr.Sent("pc.ram", 0x200000+TargetPage) // the background scan's
	tr.Write(reqPagesID("pc.ram", 0x100000, TargetPage))
	tr.Sent("pc.ram", 0x100000)
	tr.Write(reqPagesID("pc.ram", 0x200000, TargetPage)) // 1 MiB on: sequential, waiting
	tr.out.Reset()
	tr.pump()
	got := splitMessages(t, tr.out.Bytes())
	want := [][]byte{reqPagesID("pc.ram", 0x202000, 4*TargetPage), reqPagesID("pc.ram", 0x206000, 4*TargetPage)}
	if len(got) < len(want) {
		t.Fatalf("%d requests, want at least %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("request %d: %x, want %x", i, got[i], want[i])
		}
	}
	if st := tr.Stats(); st.Readahead == 0 || st.Readahead > readaheadPages {
		t.Errorf("stats %+v", st)
	}
}

// Streams interleaved (a guest writing one buffer in order while it reads
// another) are each followed.
func TestReadaheadInterleavedStreams(t *testing.T) {
	tr := newTraced(t, Config{ChunkPages: 4, Window: 64 * pageWire})
	tr.Discard("pc.ram", 0, 64<<20)
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 0x4000}})
	tr.pump()
	for _, off := range []uint64{0x100000, 0x2000000, 0x180000, 0x2080000} {
		tr.Write(reqPagesID("pc.ram", off, TargetPage))
		tr.Sent("pc.ram", off)
	}
	for p := uint64(0); p < 4; p++ {
		tr.Sent("pc.ram", p*TargetPage)
	}
	tr.out.Reset()
	tr.pump()
	got := splitMessages(t, tr.out.Bytes())
	want := [][]byte{reqPagesID("pc.ram", 0x181000, 4*TargetPage), reqPagesID("pc.ram", 0x2081000, 4*TargetPage)}
	var found int
	for _, w := range want {
		for _, g := range got {
			if bytes.Equal(g, w) {
				found++
				break
			}
		}
	}
	if found != len(want) {
		t.Fatalf("%d requests, %d of the streams' first readahead chunks among them", len(got), found)
	}
}

// A parse that stops following the stream falls back to the byte model:
// pages it can no longer see sent do not hold the window for ever.
func TestLostFallsBackToBytes(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.Discard("pc.ram", 0, 1<<20)
	tr.plan(testBlocks, []Range{{"pc.ram", 0, 1 << 20}})
	tr.pump()
	first := tr.Stats().Requests
	tr.Observe(1 << 30)
	if tr.pump(); tr.Stats().Requests != first {
		t.Fatal("bytes served requests while the pages still to be sent were known")
	}
	tr.Lost("malformed")
	if tr.pump(); tr.Stats().Requests == first {
		t.Fatal("injection stuck after the parse was lost")
	}
}
