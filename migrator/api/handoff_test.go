package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHandoffStatsDroppedTotal(t *testing.T) {
	var h HandoffStats
	if h.DroppedTotal() != 0 {
		t.Fatalf("empty: %d", h.DroppedTotal())
	}
	h.Dropped = map[string]uint64{"ring_full": 3, "tap_full": 2}
	if got := h.DroppedTotal(); got != 5 {
		t.Fatalf("DroppedTotal = %d, want 5", got)
	}
}

func TestHandoffReportJSON(t *testing.T) {
	in := Migration{ID: "hostA-1", Handoff: &HandoffReport{
		Source:      HandoffStats{Buffered: 31, Flushed: 33, Modes: map[string]Duration{"buffer": Duration(20 * time.Millisecond)}},
		Destination: HandoffStats{Held: 4, Dropped: map[string]uint64{"tap_full": 1}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Migration
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Handoff == nil || out.Handoff.Source.Buffered != 31 || out.Handoff.Destination.DroppedTotal() != 1 ||
		out.Handoff.Source.Modes["buffer"] != Duration(20*time.Millisecond) {
		t.Fatalf("round trip: %s -> %+v", b, out.Handoff)
	}
	b, _ = json.Marshal(Migration{ID: "x"})
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["handoff"]; ok {
		t.Fatalf("nil hand-off written: %s", b)
	}
}

func TestHandoffStatsAdd(t *testing.T) {
	var sum HandoffStats
	sum.Add(HandoffStats{Buffered: 3, Flushed: 2, GARPs: 3, HighWaterBytes: 100, ReplayRate: 1000, RollbackFlooded: 2,
		Dropped: map[string]uint64{"queue_full": 1}, Modes: map[string]Duration{"buffer": Duration(20 * time.Millisecond)}})
	sum.Add(HandoffStats{Buffered: 4, Flushed: 5, GARPs: 3, HighWaterBytes: 50, ReplayRate: 500, RollbackFlooded: 5,
		Dropped: map[string]uint64{"queue_full": 2, "tap_full": 1}, Modes: map[string]Duration{"buffer": Duration(30 * time.Millisecond), "mirror": Duration(time.Second)}})
	if sum.Buffered != 7 || sum.Flushed != 7 || sum.GARPs != 6 || sum.HighWaterBytes != 100 || sum.ReplayRate != 1000 || sum.RollbackFlooded != 7 {
		t.Errorf("sum %+v", sum)
	}
	if sum.Dropped["queue_full"] != 3 || sum.Dropped["tap_full"] != 1 || sum.DroppedTotal() != 4 {
		t.Errorf("dropped %v", sum.Dropped)
	}
	if sum.Modes["buffer"] != Duration(30*time.Millisecond) || sum.Modes["mirror"] != Duration(time.Second) {
		t.Errorf("modes %v", sum.Modes)
	}
}
