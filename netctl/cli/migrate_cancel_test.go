package cli

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestMigrateCancelID(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	check(t, run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB", "--detach"), 0)
	r := run(t, env, "--host", "hostA", "migrate", "--cancel", "hostA-1")
	check(t, r, 0, "out:migration hostA-1 (fw1 from hostA to hostB): cancelled: cancelled by the operator",
		"out:fw1 keeps running on hostA")
	if got := a.mig.cancels; len(got) != 1 || got[0] != "hostA-1" {
		t.Errorf("agent got cancels %v, want [hostA-1]", got)
	}
	// Cancelling again reports the record as it ended.
	r = run(t, env, "--host", "hostA", "-o", "json", "migrate", "--cancel", "hostA-1")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if r.code != 0 || m.State != api.MigrationCancelled {
		t.Errorf("second cancel: exit %d, state %s", r.code, m.State)
	}
	check(t, run(t, env, "--host", "hostA", "migrate", "--cancel", "hostA-9"), ExitFailure,
		"err:netctl: cancelling migration hostA-9 on hostA: no such migration: hostA-9")
}

func TestMigrateCancelTooLate(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	seedMigrations(a)
	check(t, run(t, env, "--host", "hostA", "migrate", "--cancel", "hostA-2"), ExitFailure,
		"out:migration hostA-2 (fw1 from hostA to hostB): completed",
		"err:netctl: migration hostA-2 had completed before the cancel: fw1 runs on hostB")
}
