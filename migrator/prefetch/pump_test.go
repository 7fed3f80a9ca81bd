package prefetch

import (
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
