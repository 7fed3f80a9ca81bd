package dataplane

import (
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestStatsAccount(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := newStats()
	s.reset(vmCounters{Mirrored: 100, Buffered: 7, DropRingFull: 1}, t0)
	s.enter("mirror", t0)
	s.enter("buffer", t0.Add(3*time.Second))
	s.update(func(h *api.HandoffStats) { h.Residue += 2; h.Flushed += 5 })
	s.drop(dropQueueFull, 3)
	s.drop(dropTapFull, 0)
	cur := vmCounters{Mirrored: 110, Buffered: 10, DropRingFull: 3, Forwarded: 4}
	got := s.snapshot(cur, 4096, t0.Add(4*time.Second))
	if got.Mirrored != 10 || got.Buffered != 3 || got.Forwarded != 4 || got.Residue != 2 || got.Flushed != 5 {
		t.Fatalf("counts: %+v", got)
	}
	if got.Dropped[dropQueueFull] != 3 || got.Dropped[dropRingFull] != 2 || len(got.Dropped) != 2 {
		t.Fatalf("dropped: %v", got.Dropped)
	}
	if got.DroppedTotal() != 5 || got.HighWaterBytes != 4096 {
		t.Fatalf("total %d high %d", got.DroppedTotal(), got.HighWaterBytes)
	}
	if got.Modes["mirror"] != api.Duration(3*time.Second) || got.Modes["buffer"] != api.Duration(time.Second) {
		t.Fatalf("modes: %v", got.Modes)
	}
	// Once frozen, later counters (a recreated entry) do not count.
	s.enter("", t0.Add(5*time.Second))
	s.freeze(cur)
	got = s.snapshot(vmCounters{}, 0, t0.Add(time.Hour))
	if got.Mirrored != 10 || got.Modes["buffer"] != api.Duration(2*time.Second) {
		t.Fatalf("frozen: %+v", got)
	}
}

func TestCountersSubRecreated(t *testing.T) {
	d := vmCounters{Seen: 5}.sub(vmCounters{Seen: 9})
	if d.Seen != 5 {
		t.Fatalf("recreated entry: got %d, want 5", d.Seen)
	}
}
