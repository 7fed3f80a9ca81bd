package verify

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// AnalyzeMigration is Analyze against migration m: its phases, and its
// traffic hand-off, whose dropped frames count against Limits.MaxLost like
// lost test packets (a hand-off that dropped anything fails the default
// verdict, even if no test packet was among the drops).
func AnalyzeMigration(samples []Sample, m api.Migration, lim Limits) Report {
	return analyze(samples, m, lim)
}

// handoffDropped is the frames both ends of h dropped.
func handoffDropped(h *api.HandoffReport) uint64 {
	if h == nil {
		return 0
	}
	return h.Source.DroppedTotal() + h.Destination.DroppedTotal()
}

// DropReasons prints h's drops by reason and end, e.g. "ring_full 3
// (source), tap_full 1 (destination)"; "" when nothing was dropped.
func DropReasons(h *api.HandoffReport) string {
	if h == nil {
		return ""
	}
	var out []string
	for _, end := range []struct {
		name string
		st   api.HandoffStats
	}{{"source", h.Source}, {"destination", h.Destination}} {
		for _, k := range slices.Sorted(maps.Keys(end.st.Dropped)) {
			if n := end.st.Dropped[k]; n > 0 {
				out = append(out, fmt.Sprintf("%s %d (%s)", k, n, end.name))
			}
		}
	}
	return strings.Join(out, ", ")
}

// handoffWhy is the verdict's reason about the hand-off, "" if it passes.
func (r *Report) handoffWhy(lim Limits) string {
	if r.Handoff == nil || lim.MaxLost < 0 || r.HandoffDropped <= uint64(lim.MaxLost) {
		return ""
	}
	frames := "frames"
	if r.HandoffDropped == 1 {
		frames = "frame"
	}
	return fmt.Sprintf("hand-off dropped %d %s (max %d): %s", r.HandoffDropped, frames, lim.MaxLost, DropReasons(r.Handoff))
}
