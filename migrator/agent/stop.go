package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// StopVM stops the named VM, removes what was made for it and its record,
// and returns the final record with state "stopped".
func (a *Agent) StopVM(ctx context.Context, name string) (api.VM, error) {
	if err := a.refuseForeign(name, "stop"); err != nil {
		return api.VM{}, err
	}
	e, err := a.lookup(name)
	if err != nil {
		return api.VM{}, err
	}
	e.op.Lock()
	defer e.op.Unlock()

	a.mu.Lock()
	if e.gone {
		a.mu.Unlock()
		return api.VM{}, fmt.Errorf("%w: %s", api.ErrNotFound, name)
	}
	if e.migrating != "" {
		id := e.migrating
		a.mu.Unlock()
		return api.VM{}, fmt.Errorf("%w: %s is migrating (%s)", api.ErrBusy, name, id)
	}
	e.stopped = true
	inst, rec := e.inst, e.rec
	a.mu.Unlock()

	if inst != nil {
		err = inst.Stop(ctx)
	} else {
		// Failed (or never adopted): only leftovers remain.
		err = a.cfg.Runtime.Cleanup(ctx, rec)
	}
	if err != nil {
		a.mu.Lock()
		e.stopped = false
		a.mu.Unlock()
		return api.VM{}, fmt.Errorf("stopping vm %s: %w", name, err)
	}
	a.detachEntry(e)
	a.storeLater(deleteVM(name)) // the guest is stopped: its record goes, now or later
	a.forget(e)
	a.mu.Lock()
	e.inst = nil
	a.mu.Unlock()
	rec.State = api.StateStopped
	a.log.Info("vm stopped", "vm", name)
	return rec, nil
}

// watch marks the VM failed when its QEMU exits without a Stop. It gives up
// when the agent shuts down: the guest then outlives the agent. Meanwhile
// it reads the guest's working-set reports, from now on if reports (else
// from startReports on).
func (a *Agent) watch(e *entry, inst Instance, reports bool) {
	if reports {
		a.watchWorkingSet(e, inst)
	}
	a.watchers.Add(1)
	go func() {
		defer a.watchers.Done()
		defer a.unwatchWorkingSet(e)
		select {
		case <-inst.Done():
		case <-a.quit:
			return
		}
		select {
		case <-a.quit:
			return // an exit seen at shutdown is for the next agent to judge
		default:
		}
		a.exited(e, inst)
	}()
}

func (a *Agent) exited(e *entry, inst Instance) {
	e.op.Lock()
	defer e.op.Unlock()
	a.mu.Lock()
	if e.gone || e.stopped || e.inst != inst || e.migrating != "" {
		a.mu.Unlock()
		return // a migration session judges the exit of its guest
	}
	rec := e.rec
	a.mu.Unlock()

	rec.State = api.StateFailed
	rec.Reason = inst.ExitReason()
	if rec.Reason == "" {
		rec.Reason = "qemu exited"
	}
	a.metrics.unexpectedExits.Inc()
	a.log.Error("vm failed: qemu exited without a stop", "vm", rec.Spec.Name, "pid", rec.PID, "reason", rec.Reason)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.cfg.Runtime.Cleanup(ctx, rec); err != nil {
		a.log.Warn("cleanup after qemu exit", "vm", rec.Spec.Name, "err", err)
	}
	a.detachEntry(e)
	a.storeLater(putVM(rec))
	a.mu.Lock()
	e.inst, e.rec = nil, rec
	a.mu.Unlock()
}
