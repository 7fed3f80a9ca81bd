package verify

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func handoffMigration(dropped map[string]uint64) api.Migration {
	return api.Migration{ID: "hostA-1", Phases: phases(), Handoff: &api.HandoffReport{
		Source: api.HandoffStats{Buffered: 31, Flushed: 33, Residue: 2, Dropped: dropped,
			Modes: map[string]api.Duration{"buffer": api.Duration(38 * time.Millisecond)}},
		Destination: api.HandoffStats{Held: 4, Released: 4, GARPs: 5, Dropped: map[string]uint64{"tap_full": 0}},
	}}
}

// A hand-off drop fails the verdict like a lost packet, within --max-lost.
func TestAnalyzeMigrationHandoffDrops(t *testing.T) {
	m := handoffMigration(map[string]uint64{"ring_full": 2, "queue_full": 1})
	r := AnalyzeMigration(synth(5000, 1000, 7), m, Limits{MaxLost: 0})
	if r.Pass || r.HandoffDropped != 3 || r.Lost != 0 {
		t.Fatalf("pass %v, hand-off dropped %d, lost %d: want a failure for 3 dropped", r.Pass, r.HandoffDropped, r.Lost)
	}
	for _, want := range []string{"hand-off dropped 3 frames (max 0)", "queue_full 1 (source)", "ring_full 2 (source)"} {
		if !strings.Contains(r.Verdict, want) {
			t.Errorf("verdict %q lacks %q", r.Verdict, want)
		}
	}
	if r := AnalyzeMigration(synth(5000, 1000, 7), m, Limits{MaxLost: 3}); !r.Pass {
		t.Errorf("--max-lost 3 allows 3 dropped: %s", r.Verdict)
	}
	if r := AnalyzeMigration(synth(5000, 1000, 7), m, Limits{MaxLost: -1}); !r.Pass {
		t.Errorf("--max-lost -1: %s", r.Verdict)
	}
	r = AnalyzeMigration(synth(5000, 1000, 7), handoffMigration(nil), Limits{})
	if !r.Pass || !strings.HasSuffix(r.Verdict, "; hand-off dropped 0") || r.Handoff == nil {
		t.Errorf("clean hand-off: pass %v, verdict %q", r.Pass, r.Verdict)
	}
	if r := AnalyzeMigration(synth(100, 1000, 7), api.Migration{Phases: phases()}, Limits{}); !r.Pass ||
		strings.Contains(r.Verdict, "hand-off") {
		t.Errorf("without a hand-off: %q", r.Verdict)
	}
}

func TestReportCarriesHandoff(t *testing.T) {
	m := handoffMigration(map[string]uint64{"ring_full": 1})
	samples := synth(200, 1000, 1)
	r := AnalyzeMigration(samples, m, Limits{MaxLost: -1})
	dir := t.TempDir()
	if _, err := WriteReport(dir, m, r, samples); err != nil {
		t.Fatal(err)
	}
	gm, gr, _, err := ReadReport(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if gm.Handoff == nil || gm.Handoff.Source.Buffered != 31 || gr.Handoff == nil || gr.HandoffDropped != 1 {
		b, _ := json.Marshal(gr)
		t.Fatalf("report.json: migration hand-off %+v, verification %s", gm.Handoff, b)
	}
}
