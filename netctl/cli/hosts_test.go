package cli

import (
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestHosts(t *testing.T) {
	env, agents := testbed(t, "hostA", "hostB")
	a := agents["hostA"]
	a.vms["fw1"] = a.record(api.VMSpec{Name: "fw1"})
	r := run(t, env, "hosts")
	check(t, r, 0)
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	if got := strings.Join(rows["HOST"], " "); got != "HOST STATUS AGENT VERSION ACCEL VMS SOCKET" {
		t.Errorf("header %q", got)
	}
	if got, want := strings.Join(rows["hostA"][:6], " "), "hostA up hostA test-1 tcg 1"; got != want {
		t.Errorf("hostA row %q, want %q", got, want)
	}
	if got, want := strings.Join(rows["hostB"][:6], " "), "hostB up hostB test-1 tcg 0"; got != want {
		t.Errorf("hostB row %q, want %q", got, want)
	}
}

func TestHostsSomeDown(t *testing.T) {
	env, _ := testbed(t, "hostA")
	deadSocket(t, env["NFH_RUN_DIR"], "hostB")
	r := run(t, env, "hosts")
	check(t, r, ExitFailure, "out:hostB  unreachable", "err:netctl: 1 of 2 agents not answering:",
		"err:agent hostB is not answering on", "err:connection refused")

	r = run(t, env, "hosts", "-o", "json")
	check(t, r, ExitFailure)
	var infos []HostInfo
	decodeOne(t, r.stdout, &infos)
	if len(infos) != 2 || infos[0].Health == nil || infos[0].Health.Host != "hostA" ||
		infos[1].Health != nil || !strings.Contains(infos[1].Error, "connection refused") {
		t.Errorf("json hosts %+v", infos)
	}
}

func TestHostsNone(t *testing.T) {
	env := map[string]string{"NFH_RUN_DIR": t.TempDir()}
	check(t, run(t, env, "hosts"), ExitFailure, "err:netctl: no agents found under "+env["NFH_RUN_DIR"], "err:testbed/up --agents")
	r := run(t, env, "hosts", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("json for no hosts: %q, want []", r.stdout)
	}
}
