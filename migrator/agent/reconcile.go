package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// ReasonGoneWhileDown is the failure reason of a guest that died while no
// agent was watching it.
const ReasonGoneWhileDown = "guest gone while agent was down"

// reconcile loads the stored records and brings each to a known state:
//   - running: adopted (state running, Adopted true), or, when the guest is
//     gone, cleaned up and kept as failed with ReasonGoneWhileDown; an
//     outgoing migration the previous run left for it is settled
//     (recoverOutgoing);
//   - starting (the previous agent died mid-start): adopted if its QEMU runs
//     the guest (adoptStarted), else cleaned up and deleted;
//   - failed: kept as is until deleted;
//   - a record that does not decode: listed as failed, kept until deleted;
//   - anything else: deleted.
//
// An adoption that fails for another reason keeps the record as failed
// without cleanup, since the guest may still run; deleting it cleans up.
// A store that fails these writes does not stop the agent: they are kept
// and retried (storeLater), and the stored records, older, lead the next
// start to the same result.
func (a *Agent) reconcile(ctx context.Context) error {
	recs, corrupt, err := a.cfg.Store.ListVMs()
	if err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	for _, c := range corrupt {
		// Listed as failed so that the operator sees it (vm list) and can
		// delete it (vm stop); its guest, if one runs, is left alone.
		a.log.Error("stored vm record cannot be decoded: kept as failed, not adopted", "vm", c.Key, "err", c.Err)
		a.add(&entry{rec: api.VM{Spec: api.VMSpec{Name: c.Key}, State: api.StateFailed, Host: a.cfg.Host,
			Reason: "stored record cannot be decoded (" + c.Err.Error() + "); a guest of it, if any, is not managed"}})
	}
	outgoing, err := a.unfinishedOutgoing()
	if err != nil {
		return fmt.Errorf("reconciling: %w", err)
	}
	for _, rec := range recs {
		m, moving := outgoing[rec.Spec.Name]
		if err := a.reconcileOne(ctx, rec, m, moving); err != nil {
			return err
		}
	}
	return a.reconcileMigrations()
}

// reconcileOne brings rec to a known state; out is the outgoing migration
// the previous run left unfinished for it, if moving (see recoverOutgoing).
func (a *Agent) reconcileOne(ctx context.Context, rec api.VM, out api.Migration, moving bool) error {
	name := rec.Spec.Name
	log := a.log.With("vm", name, "state", rec.State)
	switch rec.State {
	case api.StateRunning:
		inst, err := a.cfg.Runtime.Adopt(ctx, rec)
		if err == nil {
			e := a.adopted(ctx, rec, inst)
			if moving {
				a.recoverOutgoing(ctx, e, inst, out)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("reconciling vm %s: %w", name, ctx.Err())
		}
		rec.State, rec.Adopted = api.StateFailed, false // the pid stays: Cleanup kills a QEMU still running
		if errors.Is(err, ErrGone) {
			rec.Reason = ReasonGoneWhileDown
			if cerr := a.cfg.Runtime.Cleanup(ctx, rec); cerr != nil {
				log.Warn("cleanup of a gone guest", "err", cerr)
			}
			a.detach(rec.Spec) // the dataplane's pinned entry outlived the guest
			log.Error("vm failed: guest gone while the agent was down")
		} else {
			rec.Reason = "adopting: " + err.Error()
			log.Error("vm failed: cannot adopt", "err", err)
		}
		a.storeLater(putVM(rec))
		a.add(&entry{rec: rec})
	case api.StateFailed:
		a.add(&entry{rec: rec})
		log.Info("failed vm kept", "reason", rec.Reason)
	default:
		if rec.State == api.StateStarting && a.adoptStarted(ctx, rec) {
			return nil
		}
		if err := a.cfg.Runtime.Cleanup(ctx, rec); err != nil {
			log.Warn("cleanup of an unfinished vm", "err", err)
		}
		a.storeLater(deleteVM(name))
		log.Warn("unfinished vm removed")
	}
	return nil
}

// adopted makes inst, the guest of rec re-adopted after a restart, one of
// the agent's running VMs: stored as running, its tap attached, watched.
func (a *Agent) adopted(ctx context.Context, rec api.VM, inst Instance) *entry {
	got := inst.Record()
	got.Spec, got.State, got.Host, got.Created, got.Adopted = rec.Spec, api.StateRunning, a.cfg.Host, rec.Created, true
	a.storeLater(putVM(got))
	e := &entry{rec: got, inst: inst}
	a.attachAdopted(ctx, e, inst)
	a.add(e)
	a.setAccel(got.Accel)
	a.watch(e, inst, !a.migrationUnfinished(rec.Spec.Name))
	a.log.Info("vm adopted", "vm", rec.Spec.Name, "pid", got.PID)
	return e
}

// adoptStarted adopts the guest of a record left "starting" if its QEMU
// runs the guest, and reports whether it did: the start, or the arrival
// of a migration (whose guest runs only after the commit), went through
// and only the record's last write did not happen (the agent died, or the
// store failed it). Killing that guest would lose it. Anything else is not
// adopted.
func (a *Agent) adoptStarted(ctx context.Context, rec api.VM) bool {
	inst, err := a.cfg.Runtime.Adopt(ctx, rec)
	if err != nil {
		return false
	}
	// A guest in post-copy runs here on pages its source still holds: it
	// is the only copy of the guest, whatever its run state says while its
	// stream is broken.
	g, _ := inst.(session.Guest)
	if st, err := inst.QueryStatus(ctx); (err != nil || st != qmpcmd.RunStateRunning) && (g == nil || !session.InPostcopy(ctx, g)) {
		if d, ok := inst.(detacher); ok {
			d.Detach() // Cleanup kills it next
		}
		return false
	}
	a.adopted(ctx, rec, inst)
	a.log.Warn("a guest left starting runs: adopted", "vm", rec.Spec.Name)
	return true
}

func (a *Agent) add(e *entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.vms[e.rec.Spec.Name] = e
}
