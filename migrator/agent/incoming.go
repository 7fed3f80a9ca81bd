package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// AcceptConn serves the migration streams of a connection another agent
// opened (transport.Config.Accept). It returns when the connection dies.
func (a *Agent) AcceptConn(ctx context.Context, c *transport.Conn) {
	a.dest.Serve(ctx, session.FromTransport(c))
}

// ServeConn is AcceptConn for any session.Conn (tests).
func (a *Agent) ServeConn(ctx context.Context, c session.Conn) { a.dest.Serve(ctx, c) }

// errDebugStoreFails is the store's error once --debug-store-fail-writes-after-arrival
// has taken effect.
var errDebugStoreFails = errors.New("debug: the store fails every write after an arrival (--debug-store-fail-writes-after-arrival)")

// destAgent is the agent as a destination session sees it.
type destAgent struct{ a *Agent }

// Admit reserves the VM's name and addresses with a starting record that
// stays busy until the migration ends, and re-reads the tunnel peers: the
// session holds the VM next (Prepare), and the stragglers its source will
// forward must be taken from the hosts the peers file lists now.
func (d destAgent) Admit(spec api.VMSpec) error {
	a := d.a
	if _, ok := a.cfg.Runtime.(IncomingStarter); !ok {
		return fmt.Errorf("%w: this runtime cannot receive guests", api.ErrMigration)
	}
	e, err := a.reserve(spec)
	if err != nil {
		return err
	}
	defer e.op.Unlock()
	a.mu.Lock()
	e.migrating = "incoming"
	a.mu.Unlock()
	a.refreshTunnelPeers()
	return nil
}

// Launch starts QEMU waiting for the stream and records the guest as
// starting, with its QEMU, so that an agent restarted meanwhile removes it
// or, if the guest runs (it arrived), adopts it. A store that fails this
// write fails the migration: nothing has run here yet.
func (d destAgent) Launch(ctx context.Context, spec api.VMSpec) (session.Guest, string, error) {
	a := d.a
	e, err := a.lookup(spec.Name)
	if err != nil {
		return nil, "", err
	}
	inst, err := a.cfg.Runtime.(IncomingStarter).StartIncoming(ctx, spec, a.attachHook(e, spec))
	if err != nil {
		return nil, "", err // Release detaches
	}
	g, ok := inst.(session.Guest)
	if !ok {
		inst.Stop(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("%w: runtime instance has no QMP", api.ErrMigration)
	}
	rec := inst.Record()
	a.mu.Lock()
	rec.Spec, rec.State, rec.Host, rec.Created = spec, api.StateStarting, a.cfg.Host, e.rec.Created
	e.rec, e.inst = rec, inst
	a.mu.Unlock()
	if err := a.storeNow(putVM(rec)); err != nil {
		inst.Stop(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("recording vm %s: %w", spec.Name, err)
	}
	return g, filepath.Dir(rec.QMPSocket), nil
}

// Adopt makes the migrated guest one of the agent's running VMs. The
// guest runs here whether or not the store takes its record: a failed
// write is kept and retried (storeLater), and meanwhile the stored record
// says "starting" with the guest's QEMU, which a restart adopts
// (adoptStarted).
func (d destAgent) Adopt(spec api.VMSpec, g session.Guest) error {
	a := d.a
	e, err := a.lookup(spec.Name)
	if err != nil {
		return err
	}
	a.mu.Lock()
	inst := e.inst
	rec := e.rec
	rec.State, rec.Started = api.StateRunning, time.Now().UTC()
	e.rec, e.migrating = rec, ""
	a.mu.Unlock()
	if a.cfg.DebugStoreFailAfterArrival {
		a.log.Warn("debug: the store fails every write from now on", "vm", spec.Name)
		a.cfg.Store.FailWrites(errDebugStoreFails)
	}
	a.storeLater(putVM(rec))
	a.setAccel(rec.Accel)
	if inst != nil {
		a.watch(e, inst, false) // reports once the migration completed (Record)
	}
	a.log.Info("vm arrived", "vm", spec.Name, "pid", rec.PID, "taps", rec.AllTaps())
	return nil
}

// Release drops the reservation of a failed incoming migration; the
// session has stopped the guest.
func (d destAgent) Release(spec api.VMSpec) {
	a := d.a
	e, err := a.lookup(spec.Name)
	if err != nil {
		return
	}
	a.mu.Lock()
	e.inst = nil
	a.mu.Unlock()
	a.detachEntry(e)
	a.discardStart(e)
}

func (d destAgent) Record(m api.Migration, persist bool) {
	d.a.recordMigration(m, persist)
	if m.State == api.MigrationCompleted {
		d.a.startReports(m.VM)
	}
	if api.Ended(m.State) {
		d.a.metrics.migrationEnded(m)
	} else if m.State == api.MigrationSetup && persist && len(m.Phases) == 1 {
		d.a.metrics.migrationsStarted.WithLabelValues("destination").Inc()
	}
}

func (d destAgent) Lookup(id string) (api.Migration, bool) {
	m, err := d.a.GetMigration(id)
	return m, err == nil
}
