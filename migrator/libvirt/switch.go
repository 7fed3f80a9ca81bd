package libvirt

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/engine"
)

// Why the agent stops the guest itself under libvirt: when QEMU picks the
// switchover, vm_stop sets the run state before net's state-change
// handler purges the frames queued for the device, so a frame that
// reaches the tap in between is read by QEMU and dropped, unseen by the
// hand-off (measured: 1 packet lost in about one move of four at
// 1000 pps). The agent's own switchover buffers the traffic and lets the
// tap drain with the guest still running (engine.Migration.Quiesce), and
// only then suspends the domain, as migratord does with its own QEMUs.
// libvirt lets a domain be suspended during its outgoing migration: the
// migration finishes with the guest paused.

// agentSwitch is the agent's switchover of one libvirt migration. QEMU's
// downtime limit is held at 1 ms once the job has begun (its first pass's
// event), so that QEMU waits for almost nothing to remain before it
// stops the guest itself; from the second pass on the job's remaining
// memory and measured rate are held against the target (at each pass's
// start and every progressEvery), and once they fit (or after
// engine.MaxPasses) the guest is quiesced and suspended.
type agentSwitch struct {
	e       *Engine
	w       *watched
	m       engine.Migration
	stopped func(engine.Stop)
	orig    uint64 // QEMU's downtime limit before, ms

	suspend atomic.Bool // the agent is suspending the guest: the stop event is its own

	mu        sync.Mutex
	limited   bool // the downtime limit is 1 ms
	suspended bool // the agent suspended the guest
	ended     bool // Migrate returned: decide nothing more
}

// startAgentSwitch reads QEMU's downtime limit and starts following the
// migration's passes. begun says the job is under way already (an
// operator's migration): the limit is set at once, not at the first
// pass's event, which has gone.
func (e *Engine) startAgentSwitch(w *watched, m engine.Migration, stopped func(engine.Stop), begun bool) (*agentSwitch, error) {
	orig, err := w.ev.DomainMigrateGetMaxDowntime(w.d, 0)
	if err != nil {
		return nil, fmt.Errorf("QEMU's downtime limit: %w", err)
	}
	passes, err := w.ev.SubscribeEvents(w.ctx, golibvirt.DomainEventIDMigrationIteration, golibvirt.OptDomain{w.d})
	if err != nil {
		return nil, fmt.Errorf("libvirt's migration-iteration events: %w", err)
	}
	s := &agentSwitch{e: e, w: w, m: m, stopped: stopped, orig: orig}
	if begun && !s.limit() {
		go func() {
			for range passes { // until watch's stop
			}
		}()
		return nil, fmt.Errorf("QEMU's downtime limit could not be lowered")
	}
	go s.follow(passes)
	return s, nil
}

// progressEvery is how often, from the second pass on, the job's
// progress is held against the target: within a pass, as pages leave,
// not only at its start, since QEMU (its limit 1 ms) stops the guest
// itself when a pass's start finds almost nothing dirty.
const progressEvery = 10 * time.Millisecond

// follow decides, from the second pass on; it reads passes until they end
// (watch's stop).
func (s *agentSwitch) follow(passes <-chan any) {
	var tick <-chan time.Time
	pass, decided, warned := 0, false, false
	for {
		select {
		case ev, ok := <-passes:
			if !ok {
				return
			}
			it, ok := ev.(*golibvirt.DomainEventCallbackMigrationIterationMsg)
			if !ok || it.Dom.Name != s.m.Domain || decided {
				continue
			}
			if !s.limit() {
				decided = true // QEMU's own switchover
				continue
			}
			pass = int(it.Iteration)
			if pass >= 2 && tick == nil {
				t := time.NewTicker(progressEvery)
				defer t.Stop()
				tick = t.C
			}
		case <-tick:
		}
		if decided || pass < 2 {
			continue // the first pass: everything remains
		}
		remaining, rate, err := s.progress()
		if err != nil {
			if !warned { // once: it is asked every progressEvery
				s.e.log.Warn("libvirt's job statistics", "domain", s.m.Domain, "err", err)
				warned = true
			}
			continue
		}
		fits := engine.Fits(remaining, rate, s.m.Target)
		if !fits && pass < engine.MaxPasses {
			continue
		}
		decided, tick = true, nil
		s.switchover(pass, remaining, rate, fits)
	}
}

// limit holds QEMU's downtime limit at 1 ms, once; false if it cannot.
func (s *agentSwitch) limit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	if !s.limited {
		if err := s.w.ev.DomainMigrateSetMaxDowntime(s.w.d, 1, 0); err != nil {
			s.e.log.Warn("the switchover stays libvirt's: QEMU's downtime limit", "domain", s.m.Domain, "err", err)
			return false
		}
		s.limited = true
	}
	return true
}

// progress is what remains of the guest's memory, bytes, and the rate
// QEMU measured, bytes/s.
func (s *agentSwitch) progress() (remaining, rate uint64, err error) {
	_, params, err := s.w.ev.DomainGetJobStats(s.w.d, 0)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range params {
		v, _ := p.Value.I.(uint64)
		switch p.Field {
		case golibvirt.DomainJobMemoryRemaining:
			remaining = v
		case golibvirt.DomainJobMemoryBps:
			rate = v
		}
	}
	return remaining, rate, nil
}

// switchover quiesces the guest's traffic, suspends the guest and calls
// stopped. A suspend that fails (QEMU may have stopped the guest itself
// meanwhile) gives the switchover back to QEMU: its downtime limit as it
// was, the lifecycle event calls stopped.
func (s *agentSwitch) switchover(pass int, remaining, rate uint64, fits bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	log := s.e.log.With("domain", s.m.Domain, "pass", pass, "remaining", remaining, "rate", rate, "target", s.m.Target)
	if st, _, err := s.w.ev.DomainGetState(s.w.d, 0); err == nil && golibvirt.DomainState(st) != golibvirt.DomainRunning {
		log.Info("QEMU stopped the guest before the agent's switchover", "state", st)
		return // the lifecycle event calls stopped
	}
	if !fits {
		log.Warn("what remains does not fit the target after the last pass allowed: stopping the guest anyway")
	}
	if err := s.m.Quiesce(s.w.ctx); err != nil {
		log.Warn("quiescing the guest's traffic", "err", err)
	}
	s.suspend.Store(true)
	if err := s.w.ev.DomainSuspend(s.w.d); err != nil {
		if st, _, serr := s.w.ev.DomainGetState(s.w.d, 0); serr == nil && golibvirt.DomainState(st) == golibvirt.DomainPaused {
			// QEMU stopped it itself meanwhile; its event was taken for ours.
			s.stopped(engine.Stop{})
			return
		}
		log.Warn("suspending the guest for the switchover: QEMU's own switchover then", "err", err)
		s.suspend.Store(false)
		s.restore()
		return
	}
	s.suspended = true
	s.stopped(engine.Stop{ByAgent: true, Pass: pass, Remaining: remaining, Rate: rate, Fits: fits})
	log.Info("agent's switchover: guest suspended")
}

// suspending says whether the agent is suspending the guest (false for a
// nil s: no agent's switchover).
func (s *agentSwitch) suspending() bool { return s != nil && s.suspend.Load() }

// restore puts QEMU's downtime limit back (s.mu held).
func (s *agentSwitch) restore() {
	if !s.limited {
		return
	}
	if err := s.w.ev.DomainMigrateSetMaxDowntime(s.w.d, s.orig, 0); err != nil {
		s.e.log.Warn("restoring QEMU's downtime limit", "domain", s.m.Domain, "ms", s.orig, "err", err)
	}
	s.limited = false
}

// end is Migrate's end: after a failed migration the guest runs here as
// before, with its downtime limit.
func (s *agentSwitch) end(failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if !failed {
		return
	}
	s.restore()
	if !s.suspended {
		return
	}
	st, _, err := s.w.l.DomainGetState(s.w.d, 0)
	if err == nil && golibvirt.DomainState(st) != golibvirt.DomainPaused {
		return // libvirt resumed it
	}
	if err := s.w.l.DomainResume(s.w.d); err != nil {
		s.e.log.Error("resuming the guest the agent suspended, after a failed migration", "domain", s.m.Domain, "err", err)
	}
}
