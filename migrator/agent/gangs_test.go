package agent

import "testing"

// A gang's migrations to one host share one store; another host, another
// gang or no gang get their own; the last to leave drops it.
func TestGangsJoin(t *testing.T) {
	var gs gangs
	a, leaveA, _ := gs.join("g1", "hostB")
	b, leaveB, _ := gs.join("g1", "hostB")
	c, leaveC, _ := gs.join("g1", "hostC")
	d, leaveD, _ := gs.join("", "hostB")
	if a == nil || a != b || c == a || d != nil {
		t.Fatalf("stores %p %p %p %p", a, b, c, d)
	}
	leaveA()
	leaveA() // once only
	if e, leaveE, _ := gs.join("g1", "hostB"); e != a {
		t.Fatal("the gang's store went while a member stayed")
	} else {
		leaveE()
	}
	leaveB()
	leaveC()
	leaveD()
	if len(gs.m) != 0 {
		t.Fatalf("%d stores left", len(gs.m))
	}
}
