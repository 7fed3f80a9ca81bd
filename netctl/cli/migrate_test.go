package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// migrateBed is a testbed with hostA (running fw1) and hostB.
func migrateBed(t *testing.T) (map[string]string, *fakeAgent) {
	t.Helper()
	env, agents := testbed(t, "hostA", "hostB")
	agents["hostA"].addVM("fw1", "198.18.0.100/24")
	return env, agents["hostA"]
}

func TestMigrateProgress(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB", "--bandwidth", "512MiB/s",
		"--initial-bandwidth", "100M", "--downtime", "30ms", "--postcopy", "never", "--multifd", "4",
		"--completion-timeout", "2m")
	check(t, r, 0,
		"out:migration hostA-1: fw1 from hostA to hostB",
		"out:] active: 30%, 76.8/256.0 MiB, rate 64.0 MiB/s (cap 128.0 MiB/s), dirty 2.0 MiB/s, pass 1, downtime 30ms, ETA 1.7s",
		"out:  policy, pass 2: bandwidth 128 MiB/s: dirty rate 100 MiB/s + 25%\n",
		"out:switchover",
		"out:  state:          COMPLETED",
		"out:  total time:     2.4s",
		"out:  qemu downtime:  38ms",
		"out:  setup time:     120ms",
		"out:  ram:            270.0 MiB transferred of 256.0 MiB",
		"out:  wire bytes:     280.0 MiB",
		"out:  passes:         3",
		"out:  post-copy:      no",
		"out:  throttle:       no",
		"out:  phases:         setup ",
		"out:  decisions:      1\n    pass 2",
	)
	if r.stderr != "" {
		t.Errorf("stderr off a terminal: %q", r.stderr)
	}
	want := api.MigrateRequest{VM: "fw1", To: "hostB", Bandwidth: 512 << 20, InitialBandwidth: 100 << 20,
		DowntimeTarget: api.Duration(30 * time.Millisecond), Postcopy: api.PostcopyNever, MultifdChannels: 4,
		CompletionTimeout: api.Duration(2 * time.Minute), TimeoutAction: api.TimeoutAbort, Pipe: api.PipeTCP, Codec: api.CodecNone, PostcopyPrefetch: api.PrefetchWorkingSet}
	if got := a.mig.requests; len(got) != 1 || got[0] != want {
		t.Errorf("agent got requests %+v, want %+v", got, want)
	}
	// One line per state change: setup, active, switchover, completed.
	for _, s := range []string{"] setup", "] active", "] switchover", "] completed"} {
		if n := strings.Count(r.stdout, s); n != 1 {
			t.Errorf("%d lines for %q, want 1", n, s)
		}
	}
}

func TestMigrateDefaults(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	check(t, run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB"), 0)
	want := api.MigrateRequest{VM: "fw1", To: "hostB"}
	want.Defaults()
	if got := a.mig.requests[0]; got != want {
		t.Errorf("defaults: agent got %+v, want %+v", got, want)
	}
}

func TestMigrateTerminal(t *testing.T) {
	t.Parallel()
	env, _ := migrateBed(t)
	r := runTTY(t, true, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, 0, "err:\r\x1b[Kactive  30%  76.8/256.0 MiB  64.0 MiB/s  dirty 2.0 MiB/s  pass 1  ETA 1.7s\r", "out:policy, pass 2: bandwidth",
		"out:COMPLETED")
	if !strings.HasSuffix(r.stderr, "\r\x1b[K") {
		t.Errorf("progress line not cleared at the end: %q", r.stderr)
	}
	if strings.Contains(r.stdout, "ETA") {
		t.Error("progress drawn on stdout as well")
	}
}

func TestMigrateJSON(t *testing.T) {
	t.Parallel()
	env, _ := migrateBed(t)
	r := run(t, env, "--host", "hostA", "-o", "json", "migrate", "fw1", "--to", "hostB")
	check(t, r, 0, "err:] active")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if m.ID != "hostA-1" || m.State != api.MigrationCompleted || m.QEMUDowntime == 0 || len(m.Decisions) != 1 {
		t.Errorf("json record %+v: want the completed hostA-1 with its decision", m)
	}
}

// A migration that fails because the source's QEMU died says so, not that
// the guest keeps running.
func TestMigrateFailedGuestDied(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.mig.script = []step{active(1, 30), func(m *api.Migration, now time.Time) {
		failing("qemu failed: source qemu exited during the migration")(m, now)
		a.vms["fw1"].State, a.vms["fw1"].Reason = api.StateFailed, "qemu exited: signal killed"
	}}
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, ExitFailure, "err:netctl: migration hostA-1 failed: qemu failed: source qemu exited during the migration\n"+
		"fw1 is failed on hostA: qemu exited: signal killed\n")
}

// A migration whose outcome is unknown ends netctl migrate with the state,
// why, and how to resolve it; --resolve then settles it.
func TestMigrateUnknownAndResolve(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.mig.script = []step{active(1, 30), func(m *api.Migration, now time.Time) {
		m.State, m.Reason = api.MigrationUnknown, "outcome unknown: guest paused on the source; hostB not answering"
	}}
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, ExitFailure, "err:netctl: migration hostA-1: outcome unknown: guest paused on the source; hostB not answering\n",
		`err:netctl --host hostA migrate --resolve hostA-1 --guest-on source|destination`)
	r = run(t, env, "--host", "hostA", "migrate", "--resolve", "hostA-1", "--guest-on", "nowhere")
	check(t, r, ExitUsage, `err:--guest-on "nowhere"`)
	r = run(t, env, "--host", "hostA", "migrate", "--resolve", "hostA-1", "--guest-on", "destination")
	check(t, r, 0, "out:completed", "out:fw1 runs on hostB")
	r = run(t, env, "--host", "hostA", "migrate", "--resolve", "hostA-1", "--guest-on", "source")
	check(t, r, ExitFailure, "err:not unknown")
}

func TestMigrateFailed(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.mig.script = scriptFailed()
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, ExitFailure, "out:state:          FAILED", "out:reason:         destination agent hostB died",
		"err:netctl: migration hostA-1 failed: destination agent hostB died: quic: idle timeout\nfw1 keeps running on hostA\n")
	r = run(t, env, "--host", "hostA", "-o", "json", "migrate", "fw1", "--to", "hostB")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if r.code != ExitFailure || m.State != api.MigrationFailed {
		t.Errorf("json: exit %d, state %s; want 1 and failed", r.code, m.State)
	}
}

func TestMigrateAgentRefuses(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	check(t, run(t, env, "--host", "hostA", "migrate", "fw9", "--to", "hostB"), ExitFailure,
		"err:netctl: migrating fw9 from hostA to hostB: no such vm: fw9")
	a.mig.postErr = api.ErrUnknownHost
	check(t, run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostC"), ExitFailure,
		"err:migrating fw1 from hostA to hostC: unknown host")
}

func TestMigrateInterrupt(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	a.mig.script = scriptStuck()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.mig.onGet = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	r := runCtx(t, ctx, false, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB")
	check(t, r, ExitFailure, "err:netctl: interrupted: cancelling migration hostA-1\n",
		"err:netctl: interrupted: migration hostA-1 cancelled; fw1 keeps running on hostA", "out:CANCELLED",
		"out:reason:         cancelled by the operator")
	if got := a.mig.cancels; len(got) != 1 || got[0] != "hostA-1" {
		t.Errorf("agent got cancels %v, want [hostA-1]", got)
	}
}

func TestMigrateDetach(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	r := run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB", "--detach")
	check(t, r, 0, "out:migration hostA-1 started: fw1 from hostA to hostB",
		`out:"netctl --host hostA migrations hostA-1"`, `out:"netctl --host hostA migrate --cancel hostA-1"`)
	if a.mig.gets != 0 {
		t.Errorf("--detach polled the migration %d times", a.mig.gets)
	}
	r = run(t, env, "--host", "hostA", "-o", "json", "migrate", "fw1", "--to", "hostB", "--detach")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	if m.ID != "hostA-2" || m.State != api.MigrationSetup {
		t.Errorf("json: %+v, want hostA-2 in setup", m)
	}
}

func TestMigrateUsage(t *testing.T) {
	t.Parallel()
	env, a := migrateBed(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--to", "hostB"}, "want a VM name"},
		{[]string{"migrate", "fw1", "fw2", "--to", "hostB", "--verify"}, "--verify checks one VM"},
		{[]string{"migrate", "fw1", "fw1", "--to", "hostB"}, "fw1 given twice"},
		{[]string{"migrate", "fw1", "fw2", "--to", "hostB", "--detach"}, "--detach moves one VM"},
		{[]string{"migrate", "fw1"}, "no destination: give --to HOST"},
		{[]string{"migrate", "fw1", "--to", "/run/x/api.sock"}, "want a host name"},
		{[]string{"migrate", "fw1", "--to", "hostA"}, "--to hostA is the source host"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--bandwidth", "fast"}, `invalid argument "fast" for "--bandwidth"`},
		{[]string{"migrate", "fw1", "--to", "hostB", "--bandwidth", "100M", "--initial-bandwidth", "200M"}, "initial bandwidth"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--postcopy", "sometimes"}, `postcopy "sometimes"`},
		{[]string{"migrate", "fw1", "--to", "hostB", "--postcopy", "never", "--timeout-action", "postcopy"}, "needs post-copy allowed"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--multifd", "99"}, "multifd channels 99"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--verify", "--detach"}, "cannot be combined with --detach"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--report", "/tmp/x"}, "--report needs --verify"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--max-lost", "3"}, "--max-lost needs --verify"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--verify", "--verify-rate", "0"}, "--verify-rate 0"},
		{[]string{"migrate", "fw1", "--to", "hostB", "--verify", "--verify-size", "8"}, "--verify-size 8"},
		{[]string{"migrate", "--cancel", "hostA-1", "fw1"}, `unknown command "fw1"`},
	} {
		r := run(t, env, append([]string{"--host", "hostA"}, tc.args...)...)
		check(t, r, ExitUsage, "err:"+tc.want)
	}
	if n := len(a.mig.requests); n != 0 {
		t.Errorf("usage errors sent %d requests", n)
	}
}

func TestMigrateHelp(t *testing.T) {
	r := run(t, nil, "migrate", "--help")
	check(t, r, 0, "netctl --host hostA migrate fw1 --to hostB --verify --report /tmp/r",
		"1G = 1GiB/s = 1073741824", "--max-lost defaults to 0", "nfh-client", "Exit status", "--completion-timeout duration")
	if strings.Contains(r.stdout, "verify-port") {
		t.Error("the hidden --verify-port shows in the help")
	}
}
