package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestVMList(t *testing.T) {
	env, agents := testbed(t, "hostA")
	a := agents["hostA"]
	a.vms["fw1"] = a.record(api.VMSpec{Name: "fw1", Address: "198.18.0.100/24", MAC: "52:54:00:00:00:01"})
	a.vms["nat1"] = a.record(api.VMSpec{Name: "nat1", Address: "198.18.0.101/24", MAC: "52:54:00:00:00:02"})
	a.vms["nat1"].State, a.vms["nat1"].PID = api.StateFailed, 0
	a.vms["lv1"] = a.record(api.VMSpec{Name: "lv1", MAC: "52:54:00:00:00:04"})
	a.vms["lv1"].Source, a.vms["lv1"].PID = api.SourceLibvirt, 0
	a.vms["gw1"] = a.record(api.VMSpec{Name: "gw1", Address: "198.18.0.102/24", MAC: "52:54:00:00:00:03",
		NICs: []api.NIC{{MAC: "52:54:00:00:01:03", Address: "198.19.0.102/24", Network: "core"}}})

	r := run(t, env, "--host", "hostA", "vm", "list")
	check(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a header and 4 rows, got %d lines", len(lines))
	}
	rows := map[string][]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		rows[f[0]] = f
	}
	for name, want := range map[string][]string{
		"NAME": {"NAME", "STATE", "ADDRESS", "MAC", "ACCEL", "PID", "UPTIME", "SOURCE"},
		"fw1":  {"fw1", "running", "198.18.0.100/24", "52:54:00:00:00:01", "tcg", "4242", "3m12s", "nfhandoff"},
		"nat1": {"nat1", "failed", "198.18.0.101/24", "52:54:00:00:00:02", "tcg", "-", "-", "nfhandoff"},
		"gw1": {"gw1", "running", "198.18.0.102/24,198.19.0.102/24@core", "52:54:00:00:00:03,52:54:00:00:01:03",
			"tcg", "4242", "3m12s", "nfhandoff"},
		"lv1": {"lv1", "running", "-", "52:54:00:00:00:04", "tcg", "-", "3m12s", "libvirt"},
	} {
		if !slices.Equal(rows[name], want) {
			t.Errorf("row %s = %q, want %q", name, rows[name], want)
		}
	}

	r = run(t, env, "--host", "hostA", "vm", "ls", "-o", "json")
	var vms []api.VM
	decodeOne(t, r.stdout, &vms)
	if len(vms) != 4 || vms[0].Spec.Name != "fw1" || vms[3].State != api.StateFailed || vms[2].Source != api.SourceLibvirt {
		t.Errorf("json list %+v", vms)
	}
}

func TestVMListEmpty(t *testing.T) {
	env, _ := testbed(t, "hostA")
	r := run(t, env, "--host", "hostA", "vm", "list")
	check(t, r, 0, "err:no VMs on hostA")
	if r.stdout != "" {
		t.Errorf("stdout for no VMs: %q", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "list", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" || r.stderr != "" {
		t.Errorf("json for no VMs: stdout %q stderr %q, want [] and nothing", r.stdout, r.stderr)
	}
}
