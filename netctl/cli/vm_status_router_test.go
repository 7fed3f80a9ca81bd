package cli

import (
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// A router guest shows its router's line and JSON object; a failed setup
// is shown and warned about; a guest that is no router shows neither.
func TestVMStatusRouter(t *testing.T) {
	env, a := statusBed(t)
	r := run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0)
	if strings.Contains(r.stdout, "router") {
		t.Errorf("a guest that is no router shows one:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	if strings.Contains(r.stdout, `"router"`) {
		t.Errorf("json of a guest that is no router:\n%s", r.stdout)
	}

	u := func(v uint64) *uint64 { return &v }
	a.guest.Router = &api.GuestRouter{Up: true, ConntrackEntries: u(3), ForwardDrops: u(0)}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0)
	if !hasLine(r.stdout, "router:", "up, 3 conntrack entries, 0 forward drops") {
		t.Errorf("no router line:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	check(t, r, 0, `out:"conntrack_entries": 3`, `out:"forward_drops": 0`)
	var st api.VMStatus
	decodeOne(t, r.stdout, &st)
	if g := st.Guest; g == nil || g.Router == nil || !g.Router.Up || *g.Router.ConntrackEntries != 3 {
		t.Errorf("json guest %+v", st.Guest)
	}

	a.guest.Router = &api.GuestRouter{Up: true, ConntrackEntries: u(1)}
	if r = run(t, env, "--host", "hostA", "vm", "status", "fw1"); !hasLine(r.stdout, "router:", "up, 1 conntrack entries, - forward drops") {
		t.Errorf("forward drops not read:\n%s", r.stdout)
	}

	a.guest.Router = &api.GuestRouter{FailedStep: "ruleset"}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0, "err:netctl: warning: fw1's router is not up: its setup failed at the ruleset step")
	if !hasLine(r.stdout, "router:", "NOT UP: setup failed at the ruleset step (see the console log)") {
		t.Errorf("no failed router line:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	check(t, r, 0, `out:"failed_step": "ruleset"`, "err:fw1's router is not up")

	a.guest.Router = &api.GuestRouter{}
	if r = run(t, env, "--host", "hostA", "vm", "status", "fw1"); !hasLine(r.stdout, "router:", "not up yet (being set up)") || r.stderr != "" {
		t.Errorf("a router being set up:\n%s\n%s", r.stdout, r.stderr)
	}
}
