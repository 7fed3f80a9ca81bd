package cli

import (
	"encoding/json"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Several VMs move as one gang: one request each, all naming the same
// gang; every migration followed to its end; one result for the gang.
func TestMigrateGang(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.addVM("fw2", "198.18.0.101/24")
	a.addVM("fw3", "198.18.0.102/24")
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "fw2", "fw3", "--to", "hostB", "--codec", "auto", "--parallel", "2", "-o", "json")
	check(t, r, 0)
	var res GangResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	if len(res.Migrations) != 3 || res.From != "hostA" || res.To != "hostB" || res.Gang == "" {
		t.Fatalf("result %+v", res)
	}
	for i, m := range res.Migrations {
		if want := []string{"fw1", "fw2", "fw3"}[i]; m.VM != want || m.State != api.MigrationCompleted {
			t.Errorf("migration %d: %s %s, want %s completed", i, m.VM, m.State, want)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mig.requests) != 3 {
		t.Fatalf("%d requests", len(a.mig.requests))
	}
	for _, q := range a.mig.requests {
		if q.Gang != res.Gang || q.Codec != api.CodecAuto {
			t.Errorf("request %+v: want gang %s, codec auto", q, res.Gang)
		}
	}
}

// A gang whose VM the agent does not know: the others move, the exit
// status says which did not.
func TestMigrateGangPartial(t *testing.T) {
	t.Parallel()
	env, _ := migrateBed(t)
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "nosuch", "--to", "hostB")
	check(t, r, ExitFailure, "out:gang gang-", "out:1 of 2 moved to hostB (fw1); not moved: nosuch", "err:nosuch failed")
}

// evacuate moves every running guest of the host as one gang.
func TestEvacuate(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.addVM("fw2", "198.18.0.101/24")
	r := run(t, env, "evacuate", "hostA", "--to", "hostB", "--parallel", "1")
	check(t, r, 0, "out:gang gang-", "out:2 of 2 moved to hostB (fw1 fw2)")
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mig.requests) != 2 || a.mig.requests[0].Gang == "" || a.mig.requests[0].Gang != a.mig.requests[1].Gang {
		t.Fatalf("requests %+v", a.mig.requests)
	}
}

// TestGangProgress: each VM's state, percent while its memory moves, and
// the gang's count of ended VMs and bytes sent.
func TestGangProgress(t *testing.T) {
	now := []api.Migration{
		{State: api.MigrationCompleted, Progress: api.Progress{Transferred: 100 << 20, Total: 128 << 20, Percent: 100}},
		{State: api.MigrationActive, Progress: api.Progress{Transferred: 30 << 20, Total: 128 << 20, Percent: 42.4}},
		{State: api.MigrationSetup},
		{},
	}
	got := gangProgress([]string{"fw1", "fw2", "fw3", "fw4"}, now)
	want := "  gang: fw1 completed, fw2 active 42%, fw3 setup, fw4 waiting; 1 of 4 ended, 130.0 MiB sent"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
