package dataplane

import (
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Drop reasons reported in api.HandoffStats.Dropped.
const (
	dropRingFull        = "ring_full"
	dropQueueFull       = "queue_full"
	dropTooLarge        = "too_large"
	dropTapFull         = "tap_full"
	dropForward         = "forward"
	dropNoTap           = "no_tap"
	dropTunnel          = "tunnel_refused" // came through the tunnel from no tunnel peer, or with another VNI
	dropHeldUnrecovered = "held_unrecovered"
	dropRollbackDest    = "rollback_dest"
	dropFlushLost       = "flush_lost"
	dropRestart         = "restart"      // held in the memory of a previous run of the agent
	dropRingLost        = "ring_lost"    // a ring record that never came (malformed)
	dropDetached        = "detached"     // captured, and the entry removed before they were handed on
	dropInject          = api.DropInject // the tap refused them, or too short to inject (no Ethernet header)
	// dropStall: the tap's full queue dropped them while the guest, here
	// in post-copy, was stuck on pages that had not arrived (the stream
	// broke, before the pause was noticed and the traffic held).
	dropStall = "postcopy_stall"
)

// stats is one end's account of a VM's current or last migration. The
// program's counters are kept as a baseline and read at snapshot time;
// user space adds what only it sees. Safe for concurrent use.
type stats struct {
	mu      sync.Mutex
	user    api.HandoffStats // user-space counts (Dropped and Modes filled at snapshot)
	dropped map[string]uint64
	modes   map[string]time.Duration
	mode    string // mode being timed ("" = none)
	since   time.Time
	base    vmCounters
	last    vmCounters // program counters at the last snapshot or freeze
	frozen  bool       // the entry is gone: last is final
}

func newStats() *stats {
	return &stats{dropped: map[string]uint64{}, modes: map[string]time.Duration{}}
}

// reset starts a new account with the program's counters at base.
func (s *stats) reset(base vmCounters, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = api.HandoffStats{}
	s.dropped, s.modes = map[string]uint64{}, map[string]time.Duration{}
	s.mode, s.since = "", now
	s.base, s.last, s.frozen = base, base, false
}

// enter times mode from now on ("" stops timing).
func (s *stats) enter(mode string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode != "" {
		s.modes[s.mode] += now.Sub(s.since)
	}
	s.mode, s.since = mode, now
}

// update applies fn to the user-space counts.
func (s *stats) update(fn func(*api.HandoffStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.user)
}

// drop counts n frames dropped for reason.
func (s *stats) drop(reason string, n uint64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped[reason] += n
}

// freeze keeps cur as the final program counters (the entry is going).
func (s *stats) freeze(cur vmCounters) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.frozen = cur, true
}

// snapshot returns the account, with the program's counters cur (ignored
// once frozen) and the user queue's high-water mark.
func (s *stats) snapshot(cur vmCounters, highWater int64, now time.Time) api.HandoffStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.frozen {
		s.last = cur
	}
	d := s.last.sub(s.base)
	out := s.user
	out.Mirrored = d.Mirrored
	out.Buffered = d.Buffered
	out.Held = d.Held
	out.Forwarded = d.Forwarded
	out.ForwardedIn = d.ForwardedIn
	out.ARPAnswered = d.ArpAnswered
	out.GuardTripped = d.GuardTripped
	if highWater > out.HighWaterBytes {
		out.HighWaterBytes = highWater
	}
	dropped := map[string]uint64{}
	for k, v := range s.dropped {
		dropped[k] = v
	}
	for reason, n := range map[string]uint64{
		dropRingFull: d.DropRingFull, dropTooLarge: d.DropTooLarge,
		dropForward: d.DropForward, dropNoTap: d.DropNoTap, dropTunnel: d.DropTunnel,
	} {
		dropped[reason] += n
	}
	for k, v := range dropped {
		if v == 0 {
			delete(dropped, k)
		}
	}
	if len(dropped) > 0 {
		out.Dropped = dropped
	}
	modes := map[string]api.Duration{}
	for k, v := range s.modes {
		modes[k] = api.Duration(v)
	}
	if s.mode != "" {
		modes[s.mode] += api.Duration(now.Sub(s.since))
	}
	if len(modes) > 0 {
		out.Modes = modes
	}
	return out
}
