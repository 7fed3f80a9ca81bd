package vnf

import (
	"context"
	"testing"
	"time"
)

// runUntil runs w until cond holds (checked between short runs, so the
// memory is never touched concurrently) or the test times out.
func runUntil(t *testing.T, w *workload, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		w.run(ctx)
		cancel()
	}
}

func TestWorkloadDirtiesAndVerifies(t *testing.T) {
	m := newMemory(64, FillRandom, nil)
	w := newWorkload(m, 4, 64, 0, 1, nil)
	if err := w.fill(t.Context()); err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, func() bool { return w.passes.Load() >= 3 && m.written.Load() > 64+10 })
	if m.corrupt.Load() != 0 || m.stale.Load() != 0 {
		t.Fatalf("clean memory reported corrupt %d stale %d", m.corrupt.Load(), m.stale.Load())
	}
	if m.verified.Load() < 3*64 {
		t.Fatalf("verified %d pages in 3 passes", m.verified.Load())
	}

	// Damage two pages behind the workload's back: the next pass must see both.
	copy(m.page(10), m.page(11))
	old := append([]byte(nil), m.page(20)...)
	m.write(20)
	copy(m.page(20), old)
	w.dirtyPPS = 0 // keep the dirtier from repairing them
	p := w.passes.Load()
	runUntil(t, w, func() bool { return w.passes.Load() > p })
	if m.corrupt.Load() == 0 || m.stale.Load() == 0 {
		t.Fatalf("corrupt %d stale %d, want both > 0", m.corrupt.Load(), m.stale.Load())
	}
}

func TestWorkloadIdleReturns(t *testing.T) {
	w := newWorkload(newMemory(8, FillZero, nil), 0, 0, 0, 1, discard())
	done := make(chan struct{})
	go func() { w.run(t.Context()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("idle workload did not return")
	}
}

func TestWorkloadMinPass(t *testing.T) {
	m := newMemory(8, FillZero, nil)
	w := newWorkload(m, 0, 1024, time.Hour, 1, discard())
	w.fill(t.Context())
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	w.run(ctx)
	if w.passes.Load() != 1 {
		t.Fatalf("passes = %d, want 1 within the minimum pass interval", w.passes.Load())
	}
}

// The dirtier rewrites every kind of a mix but zero pages, which stay zero
// and verified.
func TestWorkloadMixed(t *testing.T) {
	m := newMixedMemory(Mix{Shared: 1, Unique: 1, Text: 1, Zero: 1}, DefaultSharedSeed, 1, nil)
	w := newWorkload(m, 16, 256, 0, 1, nil)
	if err := w.fill(t.Context()); err != nil {
		t.Fatal(err)
	}
	runUntil(t, w, func() bool { return w.passes.Load() >= 2 && m.written.Load() > uint64(m.pages())+500 })
	if m.corrupt.Load() != 0 || m.stale.Load() != 0 {
		t.Fatalf("clean memory reported corrupt %d stale %d", m.corrupt.Load(), m.stale.Load())
	}
	dirtied := map[pageKind]int{}
	for i := range m.pages() {
		if m.expected[i] > 1 {
			dirtied[m.kind(i)]++
		}
	}
	if dirtied[kindShared] == 0 || dirtied[kindUnique] == 0 || dirtied[kindText] == 0 || dirtied[kindZero] != 0 {
		t.Fatalf("pages dirtied by kind: %v", dirtied)
	}
}

// TestWorkloadShape: with a hot part the dirtier rewrites only its pages
// and the sweep walks the rest in order, wrapping, never the hot part.
func TestWorkloadShape(t *testing.T) {
	const pagesPerMB = (1 << 20) / PageSize
	m := newMemory(4*pagesPerMB, FillZero, nil)
	w := newWorkload(m, 0, 0, 0, 1, discard())
	w.shape(1, 8)
	if w.hot != pagesPerMB || w.sweepPPS != 8*pagesPerMB {
		t.Fatalf("hot %d pages, sweep %g pages/s: want %d, %d", w.hot, w.sweepPPS, pagesPerMB, 8*pagesPerMB)
	}
	for range 10000 {
		w.dirty()
	}
	for i := range m.pages() {
		if i >= w.hot && m.expected[i] != 0 {
			t.Fatalf("the dirtier wrote page %d, past the hot part's %d pages", i, w.hot)
		}
	}
	rest := m.pages() - w.hot
	for range rest + 5 {
		w.sweepOne()
	}
	for i := w.hot; i < m.pages(); i++ {
		want := uint64(1)
		if i-w.hot < 5 {
			want = 2 // wrapped
		}
		if m.expected[i] != want {
			t.Fatalf("page %d: generation %d after a sweep and 5 pages, want %d", i, m.expected[i], want)
		}
	}
	if string(m.hotPart(w.hot)) != string(m.buf[:w.hot*PageSize]) || len(m.hotPart(0)) != len(m.buf) {
		t.Fatal("hotPart is not the hot pages (or all of them without a hot part)")
	}

	// A hot part as large as the working set leaves nothing to sweep.
	w2 := newWorkload(newMemory(pagesPerMB, FillZero, nil), 0, 0, 0, 1, discard())
	w2.shape(1, 8)
	if w2.sweepPPS != 0 {
		t.Fatalf("sweep %g pages/s with nothing after the hot part", w2.sweepPPS)
	}
}
