package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// attachHook attaches the hand-off to a starting guest's tap (before its
// QEMU starts) and marks e attached, so that whatever ends the guest
// detaches it again.
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

// attachAdopted attaches the hand-off to the tap of a guest re-adopted
// after a restart. The guest runs on whatever happens: a failure is logged.
func (a *Agent) attachAdopted(ctx context.Context, e *entry, inst Instance) {
	spec := e.rec.Spec
	t, ok := inst.(tapper)
	if !ok {
		return
	}
	tap := t.Tap()
	if tap.File == nil {
		a.log.Warn("re-adopted guest without its tap descriptor: the hand-off cannot read its tap queue", "vm", spec.Name)
	}
	if err := a.cfg.Handoff.Attach(ctx, spec, tap); err != nil {
		a.log.Error("attaching the dataplane to a re-adopted guest", "vm", spec.Name, "tap", tap.Name, "err", err)
		return
	}
	a.mu.Lock()
	e.attached = true
	a.mu.Unlock()
}

// detachEntry detaches the hand-off from e's tap if it was attached.
func (a *Agent) detachEntry(e *entry) {
	a.mu.Lock()
	attached, spec := e.attached, e.rec.Spec
	e.attached = false
	a.mu.Unlock()
	if attached {
		a.detach(spec)
	}
}

// detach tells the hand-off that spec's tap is gone (or going).
func (a *Agent) detach(spec api.VMSpec) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.cfg.Handoff.Detach(ctx, spec); err != nil {
		a.log.Warn("detaching the dataplane", "vm", spec.Name, "err", err)
	}
}
