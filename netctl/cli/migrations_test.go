package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// seedMigrations stores two finished migrations on hostA: hostA-1 (failed,
// older) and hostA-2 (completed, verified).
func seedMigrations(a *fakeAgent) {
	m1 := api.Migration{ID: "hostA-1", VM: "fw1", From: "hostA", To: "hostB", Role: "source",
		Started: testNow.Add(-10 * time.Minute), Phases: []api.Phase{{Name: "setup", Start: testNow.Add(-10 * time.Minute)}}}
	failing("destination agent hostB died")(&m1, testNow.Add(-9*time.Minute))
	m2 := api.Migration{ID: "hostA-2", VM: "fw1", From: "hostA", To: "hostB", Role: "source",
		Started: testNow.Add(-3 * time.Minute), Phases: []api.Phase{{Name: "setup", Start: testNow.Add(-3 * time.Minute)}}}
	active(2, 50)(&m2, testNow.Add(-179*time.Second))
	completed(&m2, testNow.Add(-177*time.Second))
	m2.Verification = json.RawMessage(`{"sent":5000,"received":4990,"lost":10,"largest_gap":"45ms","gap_phase":"switchover",` +
		`"reflector_seq_continuous":true,"reflector_seq_first":7,"reflector_seq_last":4996,"pass":false,"verdict":"FAIL: 10 lost (max 0)"}`)
	a.addMigration(m1)
	a.addMigration(m2)
}

func TestMigrationsList(t *testing.T) {
	t.Parallel()
	env, agents := testbed(t, "hostA")
	check(t, run(t, env, "--host", "hostA", "migrations"), 0, "out:no migrations recorded on hostA")
	r := run(t, env, "--host", "hostA", "-o", "json", "migrations")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list as json: %q", r.stdout)
	}
	seedMigrations(agents["hostA"])
	r = run(t, env, "--host", "hostA", "migrations")
	check(t, r, 0, "out:ID       VM   FROM→TO      ROLE    STATE      STARTED    TOTAL  DOWNTIME  VERDICT\n",
		"out:hostA-2  fw1  hostA→hostB  source  completed  3m0s ago   2.4s   38ms      FAIL\n",
		"out:hostA-1  fw1  hostA→hostB  source  failed     10m0s ago  -      -         -\n")
	if strings.Index(r.stdout, "hostA-2") > strings.Index(r.stdout, "hostA-1") {
		t.Error("not newest first")
	}
	r = run(t, env, "--host", "hostA", "-o", "json", "migrations")
	var ms []api.Migration
	decodeOne(t, r.stdout, &ms)
	if len(ms) != 2 || ms[0].ID != "hostA-2" {
		t.Errorf("json list %+v: want hostA-2 then hostA-1", ms)
	}
}

func TestMigrationsShow(t *testing.T) {
	t.Parallel()
	env, agents := testbed(t, "hostA")
	seedMigrations(agents["hostA"])
	check(t, run(t, env, "--host", "hostA", "migrations", "hostA-2"), 0,
		"out:migration hostA-2: fw1 from hostA to hostB (source)", "out:qemu downtime:  38ms",
		"out:verification (TWAMP-light", "out:  lost:           10\n", "out:largest gap:    45ms",
		"out:reflector seq:  continuous (7 to 4996)", "out:verdict:        FAIL: 10 lost (max 0)")
	r := run(t, env, "--host", "hostA", "migrations", "hostA-1")
	check(t, r, 0, "out:FAILED", "out:reason:         destination agent hostB died")
	if strings.Contains(r.stdout, "verification") {
		t.Error("verification block without a verification")
	}
	r = run(t, env, "--host", "hostA", "-o", "json", "migration", "hostA-2")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if m.ID != "hostA-2" || len(m.Verification) == 0 {
		t.Errorf("json record %+v: want hostA-2 with its verification", m)
	}
	check(t, run(t, env, "--host", "hostA", "migrations", "hostA-9"), ExitFailure,
		"err:netctl: migration hostA-9 on hostA: no such migration: hostA-9")
	check(t, run(t, env, "--host", "hostA", "migrations", "a", "b"), ExitUsage, "err:accepts at most 1 arg(s)")
}

func TestVerdictWord(t *testing.T) {
	for raw, want := range map[string]string{
		"": "-", `{"pass":true}`: "PASS", `{"pass":false}`: "FAIL", `{"sent":1}`: "-", `garbage`: "-",
	} {
		if got := verdictWord(json.RawMessage(raw)); got != want {
			t.Errorf("verdictWord(%s) = %q, want %q", raw, got, want)
		}
	}
}

// TestMigrationsGang: --gang gathers a gang's records from its source
// agent, oldest first, as text and as json; an unknown gang is an error.
func TestMigrationsGang(t *testing.T) {
	t.Parallel()
	env, agents := testbed(t, "hostA")
	a := agents["hostA"]
	for i, vm := range []string{"fw2", "fw1"} {
		m := api.Migration{ID: "hostA-" + vm, VM: vm, From: "hostA", To: "hostB", Role: "source",
			Request: api.MigrateRequest{VM: vm, To: "hostB", Gang: "evac-hosta-1"},
			Started: testNow.Add(-time.Duration(i+1) * time.Minute)}
		completed(&m, testNow.Add(-time.Duration(i)*time.Minute))
		a.addMigration(m)
	}
	a.addMigration(api.Migration{ID: "hostA-9", VM: "fw9", From: "hostA", To: "hostB", Role: "source",
		Request: api.MigrateRequest{VM: "fw9", To: "hostB"}, Started: testNow})
	r := run(t, env, "--host", "hostA", "migrations", "--gang", "evac-hosta-1")
	check(t, r, 0, "out:  fw1: completed (hostA-fw1)", "out:  fw2: completed (hostA-fw2)",
		"out:gang evac-hosta-1: 2 of 2 moved to hostB (fw1 fw2)")
	if strings.Index(r.stdout, "fw1:") > strings.Index(r.stdout, "fw2:") || strings.Contains(r.stdout, "fw9") {
		t.Errorf("want fw1 then fw2, not fw9:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "-o", "json", "migrations", "--gang", "evac-hosta-1")
	var g GangResult
	decodeOne(t, r.stdout, &g)
	if g.Gang != "evac-hosta-1" || g.From != "hostA" || g.To != "hostB" || len(g.Migrations) != 2 {
		t.Errorf("json %+v", g)
	}
	check(t, run(t, env, "--host", "hostA", "migrations", "--gang", "nope"), 1, "err:hostA has no migration of a gang \"nope\"")
	check(t, run(t, env, "--host", "hostA", "migrations", "hostA-9", "--gang", "x"), 2, "err:give a migration ID or --gang, not both")
}
