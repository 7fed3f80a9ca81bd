package dataplane

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestNICNames(t *testing.T) {
	for _, c := range []struct {
		vm   string
		nic  int
		name string
	}{{"fw", 0, "fw"}, {"fw", 1, "fw#1"}, {"a-b-7", 7, "a-b-7#7"}} {
		if got := nicName(c.vm, c.nic); got != c.name {
			t.Errorf("nicName(%q, %d) = %q, want %q", c.vm, c.nic, got, c.name)
		}
		if vm, nic := splitNIC(c.name); vm != c.vm || nic != c.nic {
			t.Errorf("splitNIC(%q) = %q, %d", c.name, vm, nic)
		}
	}
}

func TestNICSpecs(t *testing.T) {
	spec := api.VMSpec{Name: "fw", MAC: "52:54:00:00:00:01", Address: "198.18.0.10/24", Gateway: "198.18.0.1",
		NICs: []api.NIC{{MAC: "52:54:00:00:00:02", Address: "198.19.0.10/24", Network: "core"}}}
	specs := nicSpecs(spec)
	if len(specs) != 2 {
		t.Fatalf("%d specs", len(specs))
	}
	if s := specs[0]; s.Name != "fw" || s.MAC != spec.MAC || s.Address != spec.Address || s.NICs != nil {
		t.Errorf("nic 0: %+v", s)
	}
	if s := specs[1]; s.Name != "fw#1" || s.MAC != "52:54:00:00:00:02" || s.Address != "198.19.0.10/24" || s.Network != "core" || s.NICs != nil {
		t.Errorf("nic 1: %+v", s)
	}
	one := api.VMSpec{Name: "vnf", MAC: spec.MAC, Address: spec.Address}
	if specs := nicSpecs(one); len(specs) != 1 || specs[0].Name != "vnf" || specs[0].MAC != one.MAC {
		t.Errorf("one nic: %+v", specs)
	}
}

func TestNICPrior(t *testing.T) {
	one := &api.HandoffStats{Flushed: 1}
	if nicPrior(one, 0) != one || nicPrior(one, 1) != nil || nicPrior(nil, 0) != nil {
		t.Error("a one-NIC account is NIC 0's")
	}
	two := &api.HandoffStats{NICs: []api.HandoffStats{{Flushed: 1}, {Flushed: 2}}}
	if p := nicPrior(two, 1); p == nil || p.Flushed != 2 {
		t.Errorf("nic 1 of two: %+v", p)
	}
	if nicPrior(two, 2) != nil {
		t.Error("nic 2 of two")
	}
}
