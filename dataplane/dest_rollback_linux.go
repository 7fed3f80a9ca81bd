package dataplane

import (
	"context"
	"fmt"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// rollbackDest: the HOLD entry goes (the tap, until Detach, passes
// whatever still comes). Its held unicast frames are counted as dropped
// "rollback_dest"; its broadcasts and multicasts as RollbackFlooded, not
// as drops: the bridges flooded them to the source too, where the guest,
// which runs there again, had its copy.
func (h *Handoff) rollbackDest(ctx context.Context, v *vmEntry) error {
	v.mu.Lock()
	v.role = roleNone
	// The entry goes first: nothing more is captured, the counters are final.
	err := del(h.d.maps.vms, v.key)
	v.freeze(h.d.maps)
	v.mu.Unlock()
	if err == nil {
		// A frame's destination is known once the ring reader has queued
		// its record: wait for it (bounded).
		h.waitConsumed(ctx, v)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	unicast, flooded := v.dropHeld(h.d.maps)
	v.stats.drop(dropRollbackDest, unicast)
	v.stats.update(func(s *api.HandoffStats) { s.RollbackFlooded += flooded })
	if err != nil {
		return fmt.Errorf("vm %s: rollback: %w", v.name, err)
	}
	v.log.Info("rolled back: hold entry removed", "dropped", unicast, "flooded", flooded)
	return nil
}

// dropHeld (v.mu held) is dropUnsent for a rolled-back destination: the
// queued frames split into unicast and flooded ones by their destination
// MAC; those still in the ring, whose destination is unknown, count as
// unicast (a loss, rather than one hidden).
func (v *vmEntry) dropHeld(m *bpfMaps) (unicast, flooded uint64) {
	for _, f := range v.queue.Drain() {
		if frame.Flooded(f.Data) {
			flooded++
		} else {
			unicast++
		}
	}
	_, inRing := v.dropUnsent(m)
	return unicast + inRing, flooded
}
