package session

import (
	"context"
	"sync"
	"time"
)

// Blackouts orders the switchovers of one agent's source migrations: one
// guest is paused at a time, and while it is, the other migrations' QEMU
// channels are held (their QEMUs wait in write), so the paused guest's
// last pages, its device state and its destination's load have the CPU
// and the link. Four moves at once on two cores were paused 89-276 ms,
// every part of the pause stretched by the others' pre-copy, against 30-45
// ms for one alone. A guest waits, still running, for another's blackout
// to end (at most blackoutWait) before it is stopped, and a blackout holds
// the others for at most blackoutWait too (a guest stuck in its switchover,
// e.g. on a path cut, must not stall the others' moves). A migration leaves
// once its guest runs at the destination: a post-copy is never held (its
// guest's page faults wait on the stream). A nil *Blackouts orders nothing.
type Blackouts struct {
	mu      sync.Mutex
	members map[*gate]bool // the migrations that blackouts hold; true: held now
	running chan struct{}  // non-nil while a blackout runs; closed at its end
}

// blackoutWait bounds how long a blackout holds the others, and so how
// long a guest's stop waits for another guest's blackout (stuck, e.g. on a
// destination that never answers): past it, the two overlap, as without
// Blackouts. A healthy blackout lasts tens of milliseconds.
var blackoutWait = 2 * time.Second

// NewBlackouts returns an agent's Blackouts.
func NewBlackouts() *Blackouts { return &Blackouts{members: map[*gate]bool{}} }

// join makes g's migration one that blackouts hold (at once if one runs);
// leave ends that, releasing g if a blackout holds it.
func (b *Blackouts) join(g *gate) (leave func()) {
	if b == nil {
		return func() {}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	held := b.running != nil
	if held {
		g.quieten(true)
	}
	b.members[g] = held
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.members[g] {
				g.quieten(false)
			}
			delete(b.members, g)
		})
	}
}

// begin waits until no other blackout runs (at most blackoutWait, or until
// ctx ends), then holds every other member until end. self is the gate of
// the migration whose guest is about to stop.
func (b *Blackouts) begin(ctx context.Context, self *gate) (end func(), waited time.Duration) {
	if b == nil {
		return func() {}, 0
	}
	start := time.Now()
	deadline := time.NewTimer(blackoutWait)
	defer deadline.Stop()
	b.mu.Lock()
	for b.running != nil {
		ch := b.running
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return func() {}, time.Since(start)
		case <-ctx.Done():
			return func() {}, time.Since(start)
		}
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	done := make(chan struct{})
	b.running = done
	for g, held := range b.members {
		if g != self && !held {
			g.quieten(true)
			b.members[g] = true
		}
	}
	var once sync.Once
	var expiry *time.Timer
	end = func() {
		once.Do(func() {
			b.mu.Lock() // begin holds it while it sets expiry
			defer b.mu.Unlock()
			expiry.Stop()
			for g, held := range b.members {
				if held {
					g.quieten(false)
					b.members[g] = false
				}
			}
			b.running = nil
			close(done)
		})
	}
	expiry = time.AfterFunc(blackoutWait, end)
	return end, time.Since(start)
}
