package dataplane

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Rollback undoes this end's part of a failed migration. At the source
// (the guest runs again there) the buffered frames go back into the tap, in
// order, behind the residue still queued in it, through RELEASE; at the
// destination the HOLD entry goes and its frames are counted as dropped
// "rollback_dest". Calling it again, or without a migration, is a no-op.
func (h *Handoff) Rollback(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return nil
	}
	v.mu.Lock()
	role := v.role
	v.mu.Unlock()
	switch role {
	case roleSource:
		return h.rollbackSource(ctx, v)
	case roleDest:
		return h.rollbackDest(ctx, v)
	}
	return nil
}

func (h *Handoff) rollbackSource(ctx context.Context, v *vmEntry) error {
	v.mu.Lock()
	st, exists, err := h.d.maps.state(v.key)
	if err != nil || !exists {
		v.mu.Unlock()
		return err
	}
	tap := v.tap.Name
	switch st.Mode {
	case modeBuffer:
		// Released below.
	case modeMirror, modeForward:
		// MIRROR: nothing was taken from the traffic. FORWARD: the flush
		// already went; the VM is back here, so traffic must pass.
		err := h.setMode(v, modePass, "", nil)
		v.role = roleNone
		v.mu.Unlock()
		v.log.Info("rolled back", "from", modeName(st.Mode))
		return err
	default:
		v.role = roleNone
		v.mu.Unlock()
		return nil
	}
	v.role = roleNone
	v.mu.Unlock()
	if tap == "" {
		return fmt.Errorf("vm %s: rollback without a tap", v.name)
	}
	inj, err := NewInjector(tap, v.log)
	if err != nil {
		v.mu.Lock()
		h.setMode(v, modePass, "", nil)
		captured, _ := h.d.maps.capturedOf(v.key)
		queued := uint64(len(v.queue.Drain()))
		n := queued
		if c := v.consumed(); captured > c {
			n += captured - c // still in the ring (or waiting for order): discarded when taken
		}
		v.discard = true
		v.mu.Unlock()
		v.stats.drop(dropInject, n)
		v.finish(queued)
		return fmt.Errorf("vm %s: rollback: %w (%d buffered frames dropped)", v.name, err, n)
	}
	drained, err := h.startRelease(v, inj, true)
	if err != nil {
		return err
	}
	select {
	case <-drained:
	case <-ctx.Done():
		return fmt.Errorf("vm %s: returning buffered frames: %w", v.name, ctx.Err())
	}
	v.log.Info("rolled back: buffered frames returned to the tap")
	return nil
}

func (h *Handoff) rollbackDest(ctx context.Context, v *vmEntry) error {
	captured, _ := h.d.maps.capturedOf(v.key)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.role = roleNone
	n := uint64(len(v.queue.Drain()))
	if c := v.consumed(); captured > c {
		n += captured - c // still in the ring (or waiting for order): discarded when taken
	}
	v.discard = true
	v.stats.drop(dropRollbackDest, n)
	if ctr, err := h.d.maps.countersOf(v.key); err == nil {
		v.stats.freeze(ctr)
	}
	v.stats.enter("", time.Now())
	// The entry goes: the tap (until Detach) passes whatever still comes.
	if err := del(h.d.maps.vms, v.key); err != nil {
		return fmt.Errorf("vm %s: rollback: %w", v.name, err)
	}
	v.log.Info("rolled back: hold entry removed", "dropped", n)
	return nil
}
