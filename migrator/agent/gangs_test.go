package agent

import (
	"testing"
	"time"
)

// A gang's migrations to one host share one store; another host, another
// gang or no gang get their own; the last to leave drops it.
func TestGangsJoin(t *testing.T) {
	gangKeep = 10 * time.Millisecond
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
	if f, leaveF, _ := gs.join("g1", "hostB"); f != a { // the next, just after
		t.Fatal("a gang's store went as its last member left")
	} else {
		leaveF()
	}
	leaveC()
	leaveD()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gs.mu.Lock()
		n := len(gs.m)
		gs.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stores left", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
