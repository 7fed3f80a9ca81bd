package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// withHandoff is a step giving the record a hand-off account.
func withHandoff(dropped map[string]uint64) step {
	return func(m *api.Migration, now time.Time) {
		m.Handoff = &api.HandoffReport{
			Source: api.HandoffStats{Mirrored: 120, Buffered: 31, Residue: 1, HeldInQEMU: 1, Flushed: 33, Forwarded: 2,
				HighWaterBytes: 12 << 10, Dropped: dropped,
				Modes: map[string]api.Duration{"mirror": api.Duration(2 * time.Second), "buffer": api.Duration(38 * time.Millisecond)}},
			Destination: api.HandoffStats{Held: 4, Released: 4, Flushed: 33, ForwardedIn: 2, GARPs: 5,
				Modes: map[string]api.Duration{"hold": api.Duration(2100 * time.Millisecond)}},
		}
	}
}

func TestProgressShowsHandoff(t *testing.T) {
	m := runningMigration()
	if strings.Contains(progressLine(m), "hand-off") {
		t.Errorf("hand-off shown before it started: %q", progressLine(m))
	}
	withHandoff(map[string]uint64{"ring_full": 1})(&m, testNow)
	want := "hand-off: buffered 31 held 4 forwarded 2 dropped 1"
	if got := progressLine(m); !strings.HasSuffix(got, "; "+want) {
		t.Errorf("progress line %q lacks %q", got, want)
	}
	if got := progressBar(m, 300, ""); !strings.Contains(got, want) {
		t.Errorf("progress bar %q lacks %q", got, want)
	}
	if got := progressBar(m, 60, ""); strings.Contains(got, "hand-off") || !strings.Contains(got, "42%") {
		t.Errorf("narrow bar %q: the hand-off goes before the percentage", got)
	}
}

func TestPrintMigrationHandoff(t *testing.T) {
	m := runningMigration()
	completed(&m, testNow.Add(2*time.Second))
	var out bytes.Buffer
	g := &globals{env: Env{Stdout: &out, Now: func() time.Time { return testNow.Add(3 * time.Second) }}}
	g.printMigration(m)
	if !strings.Contains(out.String(), "hand-off:       none\n") {
		t.Errorf("summary without a hand-off:\n%s", out.String())
	}
	withHandoff(map[string]uint64{"ring_full": 2})(&m, testNow)
	m.Handoff.Destination.Dropped = map[string]uint64{"tap_full": 1}
	out.Reset()
	g.printMigration(m)
	for _, want := range []string{
		"  hand-off:       dropped 3 (ring_full 2 (source), tap_full 1 (destination))",
		"    source:       mirrored 120, buffered 31, tap residue 1, held by QEMU 1, flushed 33, forwarded 2, returned 0",
		"    destination:  held 4, released 4, injected from the flush 33, forwarded in 2, GARPs 5",
		"    high-water:   source queue 12.0 KiB, destination queue 0 B",
		"    modes:        source mirror 2s, buffer 38ms; destination hold 2.1s",
		"  qemu downtime:  38ms",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// A rolled-back destination shows the flooded frames it let go beside its
// counters, not among the drops.
func TestPrintMigrationRollbackFlooded(t *testing.T) {
	m := runningMigration()
	completed(&m, testNow.Add(2*time.Second))
	withHandoff(nil)(&m, testNow)
	m.Handoff.Destination = api.HandoffStats{Held: 9, RollbackFlooded: 7, Dropped: map[string]uint64{"rollback_dest": 2}}
	var out bytes.Buffer
	g := &globals{env: Env{Stdout: &out, Now: func() time.Time { return testNow.Add(3 * time.Second) }}}
	g.printMigration(m)
	for _, want := range []string{
		"  hand-off:       dropped 2 (rollback_dest 2 (destination))",
		"    destination:  held 9, released 0, injected from the flush 0, forwarded in 0, GARPs 0, flooded frames let go on rollback 7\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMigrateVerifyHandoffDrops(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	port := reflector(t)
	a.mig.script = append([]step{withHandoff(map[string]uint64{"queue_full": 2})}, scriptCompleted()...)
	r := run(t, env, verifyArgs(port)...)
	check(t, r, ExitFailure, "out:COMPLETED", "out:  lost:           0\n",
		"out:  hand-off:       buffered 31, flushed 33, held 4, forwarded 2, dropped 2 (queue_full 2 (source)), GARPs 5, high-water 12.0 KiB, BUFFER 38ms",
		"out:verdict:        FAIL: hand-off dropped 2 frames (max 0)", "err:netctl: verification failed: hand-off dropped 2")
	var rep verify.Report
	if err := json.Unmarshal(a.mig.attached["hostA-1"], &rep); err != nil || rep.HandoffDropped != 2 || rep.Handoff == nil {
		t.Errorf("attached verification %s (%v): want the hand-off with 2 dropped", a.mig.attached["hostA-1"], err)
	}
	check(t, run(t, env, verifyArgs(port, "--max-lost", "2")...), 0, "out:verdict:        PASS: 0 lost of", "; hand-off dropped 2")
}

func TestMigrateJSONCarriesHandoff(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	a.mig.script = append([]step{withHandoff(nil)}, scriptCompleted()...)
	r := run(t, env, "-o", "json", "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, 0)
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if m.Handoff == nil || m.Handoff.Source.Buffered != 31 || m.Handoff.Destination.GARPs != 5 {
		t.Errorf("json record hand-off %+v", m.Handoff)
	}
}
