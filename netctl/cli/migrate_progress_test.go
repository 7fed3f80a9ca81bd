package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func runningMigration() api.Migration {
	m := api.Migration{ID: "hostA-1", VM: "fw1", From: "hostA", To: "hostB", State: api.MigrationSetup, Started: testNow,
		Phases: []api.Phase{{Name: "setup", Start: testNow}}}
	active(3, 42)(&m, testNow.Add(time.Second))
	return m
}

func TestProgressBar(t *testing.T) {
	m := runningMigration()
	wide := progressBar(m, 200, "  verify 90/100")
	want := "active  [########------------]  42%  107.5/256.0 MiB  64.0 MiB/s  dirty 2.0 MiB/s  pass 3  downtime 30ms  ETA 1.7s  verify 90/100"
	if wide != want {
		t.Errorf("wide line\n%q, want\n%q", wide, want)
	}
	for _, w := range []int{100, 79, 60, 40, 20} {
		line := progressBar(m, w, "  verify 90/100")
		if n := len([]rune(line)); n > w && strings.Contains(line, "  ") {
			t.Errorf("width %d: %d runes: %q", w, n, line)
		}
		for _, keep := range []string{"active", "42%"} {
			if !strings.Contains(line, keep) {
				t.Errorf("width %d: %q lost %q", w, line, keep)
			}
		}
	}
	if line := progressBar(m, 79, ""); strings.Contains(line, "[#") || !strings.Contains(line, "ETA") {
		t.Errorf("at 79 columns want no bar but the ETA: %q", line)
	}
	m.State = api.MigrationSetup
	m.Progress = api.Progress{}
	m.Phases = m.Phases[:1]
	m.Phases[0].End = time.Time{}
	if got := progressBar(m, 79, ""); got != "setup ..." {
		t.Errorf("setup: %q", got)
	}
}

func TestProgressLine(t *testing.T) {
	m := runningMigration()
	want := "active: 42%, 107.5/256.0 MiB, rate 64.0 MiB/s (cap 128.0 MiB/s), dirty 2.0 MiB/s, pass 3, downtime 30ms, ETA 1.7s"
	if got := progressLine(m); got != want {
		t.Errorf("line\n%q, want\n%q", got, want)
	}
	m.Phases = append(m.Phases, api.Phase{Name: "postcopy", Start: testNow})
	m.State = api.MigrationFailed
	m.Reason = "boom"
	if got := progressLine(m); got != "failed: boom" {
		t.Errorf("ended line %q", got)
	}
	m.State, m.Reason = api.MigrationSwitchover, ""
	if got := stateLine(m); got != "switchover (phase postcopy)" {
		t.Errorf("state with another phase: %q", got)
	}
}

func TestBar(t *testing.T) {
	for p, want := range map[float64]string{0: "[--------------------]", 50: "[##########----------]", 100: "[####################]", 150: "[####################]", -5: "[--------------------]"} {
		if got := bar(p); got != want {
			t.Errorf("bar(%v) = %q, want %q", p, got, want)
		}
	}
	if got := fmtOf(900, 1<<30); got != "900 B/1.0 GiB" {
		t.Errorf("fmtOf with different units: %q", got)
	}
}
