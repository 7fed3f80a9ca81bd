package cli

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestVMStop(t *testing.T) {
	env, agents := testbed(t, "hostA")
	a := agents["hostA"]
	a.vms["fw1"] = a.record(api.VMSpec{Name: "fw1", Address: "198.18.0.100/24"})
	a.vms["fw2"] = a.record(api.VMSpec{Name: "fw2", Address: "198.18.0.101/24"})
	check(t, run(t, env, "--host", "hostA", "vm", "stop", "fw1"), 0, "out:fw1: stopped on hostA")
	if _, ok := a.vms["fw1"]; ok {
		t.Error("fw1 still on the agent")
	}
	r := run(t, env, "--host", "hostA", "vm", "stop", "fw2", "-o", "json")
	var vm api.VM
	decodeOne(t, r.stdout, &vm)
	if vm.Spec.Name != "fw2" || vm.State != api.StateStopped {
		t.Errorf("json record %+v: want fw2 stopped", vm)
	}
	check(t, run(t, env, "--host", "hostA", "vm", "stop", "fw1"), ExitFailure,
		"err:netctl: stopping fw1 on hostA: no such vm: fw1")
}
