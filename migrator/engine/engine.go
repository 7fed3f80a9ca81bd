// Package engine is what the agent and the manager of a foreign guest (a
// libvirt daemon, migrator/libvirt) agree on for one migration the
// manager runs: where it goes, through which socket, and who stops the
// guest for the switchover.
package engine

import (
	"context"
	"time"
)

// MaxPasses is how many passes over the guest's memory the agent's
// switchover waits for what remains to fit the target: after that it
// stops the guest anyway (the pause is then longer than the target, and
// the log says so), where the engine's own rule would let the migration
// run on without end.
const MaxPasses = 10

// Migration is one outgoing migration of a foreign guest.
type Migration struct {
	Domain    string // the guest's name in its engine
	DestURI   string // how the source's engine reaches the destination's
	Socket    string // the stream's UNIX socket, as the engine sees it
	Bandwidth uint64 // bytes/s until the switchover; 0: the engine's default

	// Target > 0 with Quiesce set makes the switchover the agent's: the
	// engine's own (QEMU stopping the guest once its downtime limit is
	// met) is held off; at each pass the engine compares what remains
	// with the rate it measures and, once the rest fits Target (or after
	// MaxPasses), calls Quiesce with the guest still running (the agent
	// buffers its traffic and lets the tap drain), then stops the guest.
	// QEMU then has nothing of the guest's traffic in its hands when the
	// guest stops. 0: the engine's own switchover.
	Target  time.Duration
	Quiesce func(ctx context.Context) error

	// Stopped is called once, from another goroutine, when the guest
	// stopped for the switchover (either way), with how.
	Stopped func(Stop)
}

// Stop is how the guest stopped for the switchover.
type Stop struct {
	ByAgent   bool   // the agent's switchover; else the engine's own (QEMU's)
	Pass      int    // the pass it came at (the agent's)
	Remaining uint64 // bytes of memory left then (the agent's)
	Rate      uint64 // bytes/s the engine measured then (the agent's)
	Fits      bool   // the rest fit the target (else MaxPasses ran out)
}

// Fits says whether remaining bytes at rate bytes/s take at most target:
// the switchover's rule (QEMU's own, with the agent's target). An unknown
// rate (0) fits nothing.
func Fits(remaining, rate uint64, target time.Duration) bool {
	return rate > 0 && float64(remaining) <= float64(rate)*target.Seconds()
}
