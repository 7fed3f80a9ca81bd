package session

import (
	"context"
	"testing"
	"time"
)

// isOpen says whether g lets reads through now.
func isOpen(g *gate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

// TestGateQuietenCounts: another migration's blackout holds a gate apart
// from its own session's hold: it opens only when both let go.
func TestGateQuietenCounts(t *testing.T) {
	g := newGate()
	g.hold()
	g.quieten(true)
	g.release()
	if isOpen(g) {
		t.Fatal("open while a blackout quietens it")
	}
	g.quieten(true)
	g.quieten(false)
	if isOpen(g) {
		t.Fatal("open while one of two blackouts quietens it")
	}
	g.quieten(false)
	if !isOpen(g) {
		t.Fatal("closed with nothing holding it")
	}
	g.quieten(false) // one too many: no effect
	g.hold()
	if isOpen(g) {
		t.Fatal("open while held")
	}
}

// TestBlackoutsOrder: one blackout at a time; it holds every other member
// (one that joins meanwhile too) and releases them at its end; the next
// waits for it; a member that leaves while held is released; nil orders
// nothing.
func TestBlackoutsOrder(t *testing.T) {
	b := NewBlackouts()
	a, c, d := newGate(), newGate(), newGate()
	leaveA, leaveC := b.join(a), b.join(c)
	ctx := context.Background()
	endA, _ := b.begin(ctx, a)
	if !isOpen(a) || isOpen(c) {
		t.Fatalf("during a's blackout: a open %v, c open %v; want a open, c held", isOpen(a), isOpen(c))
	}
	leaveD := b.join(d)
	if isOpen(d) {
		t.Fatal("d joined during a's blackout and is not held")
	}
	began := make(chan func(), 1)
	go func() {
		end, _ := b.begin(ctx, c)
		began <- end
	}()
	select {
	case <-began:
		t.Fatal("c's blackout began during a's")
	case <-time.After(50 * time.Millisecond):
	}
	endA()
	endA() // twice: once
	var endC func()
	select {
	case endC = <-began:
	case <-time.After(5 * time.Second):
		t.Fatal("c's blackout did not begin after a's ended")
	}
	if !isOpen(c) || isOpen(a) || isOpen(d) {
		t.Fatalf("during c's blackout: a %v c %v d %v; want only c open", isOpen(a), isOpen(c), isOpen(d))
	}
	leaveD()
	if !isOpen(d) {
		t.Fatal("d left while held and stays held")
	}
	endC()
	if !isOpen(a) || !isOpen(c) {
		t.Fatal("a blackout's end left a member held")
	}
	leaveA()
	leaveC()
	if len(b.members) != 0 || b.running != nil {
		t.Fatalf("after all left: %d members, running %v", len(b.members), b.running != nil)
	}

	var none *Blackouts
	none.join(a)()
	end, _ := none.begin(ctx, a)
	end()
}

// TestBlackoutsWaitEnds: a blackout that waits for another stops waiting
// when its context ends, and then holds nothing.
func TestBlackoutsWaitEnds(t *testing.T) {
	b := NewBlackouts()
	a, c := newGate(), newGate()
	defer b.join(a)()
	defer b.join(c)()
	endA, _ := b.begin(context.Background(), a)
	defer endA()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	end, waited := b.begin(ctx, c)
	end()
	// It waited until its ctx ended (the time it measures starts after the
	// ctx's timer did: on a busy machine it reads under 20 ms).
	if ctx.Err() == nil || waited <= 0 || isOpen(c) || !isOpen(a) {
		t.Fatalf("waited %v (ctx %v), c open %v, a open %v: want a wait until the ctx ended, c still held by a's blackout, a open", waited, ctx.Err(), isOpen(c), isOpen(a))
	}
}

// TestBlackoutExpires: a blackout that is never ended releases the others
// after blackoutWait, and the next may begin.
func TestBlackoutExpires(t *testing.T) {
	defer func(d time.Duration) { blackoutWait = d }(blackoutWait)
	blackoutWait = 20 * time.Millisecond
	b := NewBlackouts()
	a, c := newGate(), newGate()
	defer b.join(a)()
	defer b.join(c)()
	endA, _ := b.begin(context.Background(), a) // never ended in time
	for deadline := time.Now().Add(5 * time.Second); !isOpen(c); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a's blackout, never ended, still holds c after 5 s")
		}
	}
	blackoutWait = time.Minute // c's must not expire while the test looks
	end, _ := b.begin(context.Background(), c)
	defer end()
	if !isOpen(c) || isOpen(a) {
		t.Fatalf("c open %v, a open %v: want c's blackout, a held by it", isOpen(c), isOpen(a))
	}
	endA() // late: changes nothing
	if isOpen(a) {
		t.Fatal("a's late end released c's hold on a")
	}
	end()
	if !isOpen(a) {
		t.Fatal("c's end left a held")
	}
}
