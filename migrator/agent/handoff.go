package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// attachHook attaches the hand-off to each of a starting guest's taps
// (before its QEMU starts) and marks e attached, so that whatever ends
// the guest detaches it again.
func (a *Agent) attachHook(e *entry, spec api.VMSpec) handoff.TapHook {
	return func(ctx context.Context, tap handoff.Tap) error {
		if err := a.cfg.Handoff.Attach(ctx, spec, tap); err != nil {
			return fmt.Errorf("attaching the dataplane to %s: %w", tap.Name, err)
		}
		a.mu.Lock()
		e.attached = true
		a.mu.Unlock()
		return nil
	}
}

// attachAdopted attaches the hand-off to every tap of a guest re-adopted
// after a restart. The guest runs on whatever happens: a failure is
// logged, and the other taps are still attached.
func (a *Agent) attachAdopted(ctx context.Context, e *entry, inst Instance) {
	spec := e.rec.Spec
	t, ok := inst.(tapper)
	if !ok {
		return
	}
	for _, tap := range t.Taps() {
		if tap.File == nil {
			a.log.Warn("re-adopted guest without a tap descriptor: the hand-off cannot read its tap queue",
				"vm", spec.Name, "tap", tap.Name)
		}
		if err := a.cfg.Handoff.Attach(ctx, spec, tap); err != nil {
			a.log.Error("attaching the dataplane to a re-adopted guest", "vm", spec.Name, "tap", tap.Name, "err", err)
			continue
		}
		a.mu.Lock()
		e.attached = true
		a.mu.Unlock()
	}
}

// detachEntry detaches the hand-off from e's taps if it was attached.
func (a *Agent) detachEntry(e *entry) {
	a.mu.Lock()
	attached, spec := e.attached, e.rec.Spec
	e.attached = false
	a.mu.Unlock()
	if attached {
		a.detach(spec)
	}
}

// detach tells the hand-off that spec's taps are gone (or going).
func (a *Agent) detach(spec api.VMSpec) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.cfg.Handoff.Detach(ctx, spec); err != nil {
		a.log.Warn("detaching the dataplane", "vm", spec.Name, "err", err)
	}
}
