package dataplane

import (
	"context"
	"fmt"

	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// watch (a post-copy runs here) starts counting the frames the tap drops
// while the guest may be stuck; Unwatch counts them as dropped
// "postcopy_stall". Meanwhile the guard is armed: should this agent die,
// the program holds the guest's traffic from the next frame on (see
// guard).
func (h *Handoff) watch(ctx context.Context, spec api.VMSpec, prior *api.HandoffStats) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	tap := v.tap.Name
	v.mu.Unlock()
	dc, err := tapio.DevStats(tap)
	if err != nil {
		return fmt.Errorf("vm %s: watching its tap: %w", spec.Name, err)
	}
	base := dc.TxDropped
	if prior != nil {
		// What the previous run counted of the tap's drops (its releases'
		// and its own watch's) is in its account already.
		base = min(base, prior.Dropped[dropTapFull]+prior.Dropped[dropStall])
	}
	g, err := openGuard(tap)
	if err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := h.d.maps.update(v.key, func(st *vmState) { st.GuardPort = uint32(g.port) }); err != nil {
		g.close()
		return fmt.Errorf("vm %s: arming the guard: %w", spec.Name, err)
	}
	v.guard.close() // a previous Watch's
	v.guard = g
	v.stall = stallWatch{on: true, base: base}
	return nil
}

// disarm (v.mu held) lets go of the guard: the program stops looking
// before the socket goes.
func (h *Handoff) disarm(v *vmEntry) error {
	if v.guard == nil {
		return nil
	}
	err := h.d.maps.update(v.key, func(st *vmState) { st.GuardPort = 0 })
	if err != nil {
		// Left armed, the closed socket would hold the traffic for good.
		return fmt.Errorf("disarming the guard: %w", err)
	}
	v.guard.close()
	v.guard = nil
	return nil
}

// unwatch ends Watch (disarms the guard) and counts what the tap dropped
// meanwhile.
func (h *Handoff) unwatch(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	done := v.release.done
	v.mu.Unlock()
	if done != nil {
		// The injector's own drops are known when the release is over.
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("vm %s: waiting for the release to end: %w", spec.Name, ctx.Err())
		}
	}
	v.mu.Lock()
	w, tap := v.stall, v.tap.Name
	v.stall = stallWatch{}
	err = h.disarm(v)
	v.mu.Unlock()
	if err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	if !w.on {
		return nil
	}
	dc, err := tapio.DevStats(tap)
	if err != nil {
		return fmt.Errorf("vm %s: reading its tap's drops: %w", spec.Name, err)
	}
	if n := dc.TxDropped - w.base; n > w.caused {
		v.stats.drop(dropStall, n-w.caused)
		v.log.Warn("the tap dropped frames while the guest was stuck in post-copy", "dropped", n-w.caused)
	}
	return nil
}

// pause holds the frames of a guest whose post-copy paused (see
// handoff.Pauser): PASS goes to HOLD, the frames queue as an incoming
// migration's do, counted as held. Any other mode is left as it is (a
// release under way keeps its order; it ends in PASS, and frames after it
// reach the tap as they would have).
func (h *Handoff) pause(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	st, exists, err := h.d.maps.state(v.key)
	if err != nil || !exists {
		return err
	}
	if (st.Mode == modeHold || st.Mode == modeRelease) && v.role != roleDest && v.release.done == nil {
		// A previous run paused it, or was releasing it, and died (or its
		// guard held it): this run's Unpause releases it, in order.
		v.paused, v.discard = true, false
		return nil
	}
	if st.Mode != modePass || v.release.done != nil {
		v.log.Info("post-copy paused: traffic not passing, left as it is", "mode", st.Mode.String())
		return nil
	}
	if err := h.setMode(v, modeHold, "hold", func(st *vmState) { st.Flags |= runsHere }); err != nil {
		return fmt.Errorf("vm %s: pause: %w", spec.Name, err)
	}
	// Captured frames are wanted again (an entry adopted after a restart,
	// or past its last hand-off, discards them).
	v.paused, v.discard = true, false
	v.log.Info("post-copy paused: holding the guest's traffic")
	return nil
}

// unpause releases what Pause held into the tap, in order and paced behind
// which new frames wait (RELEASE), and returns once it is in (or ctx
// ends). Without a Pause it does nothing.
func (h *Handoff) unpause(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	paused, tap := v.paused, v.tap.Name
	v.paused = false
	v.mu.Unlock()
	if !paused {
		return nil
	}
	if err := h.replay(ctx, v, tap, false); err != nil {
		return fmt.Errorf("vm %s: unpause: %w", spec.Name, err)
	}
	v.log.Info("post-copy resumed: held traffic released")
	return nil
}
