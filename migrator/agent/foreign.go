package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/session"
)

// Foreign is a source of the guests another engine runs on this host
// (migrator/libvirt's Watcher: a libvirt daemon's domains). The agent
// attaches the dataplane to their taps, lists them (api.VM.Source) and
// shows their status, and changes nothing of them: stop and migrate refuse
// them with api.ErrForeign.
type Foreign interface {
	// Watch reports, until ctx ends, up for every guest that runs when
	// it starts and for every one that starts or changes later (rec is
	// the guest as a record: name, NICs' MACs (and addresses if known),
	// taps, Source; runState is the engine's run state, e.g. "running"
	// or "paused"), and down for every one that ends. After a lost
	// connection it reports the current set again, down included for the
	// guests gone meanwhile. It calls up and down from one goroutine and
	// returns when ctx ends.
	Watch(ctx context.Context, up func(rec api.VM, runState string), down func(name string)) error
}

// foreignGuest is the agent's view of one guest of Config.Foreign.
type foreignGuest struct {
	rec      api.VM
	runState string
	attached bool // Handoff.Attach succeeded on a tap of it
	// migrating is the ID of the guest's migration under way from here
	// ("pending" while it is set up); down says the engine ended the guest
	// here meanwhile (the migration's end detaches it).
	migrating string
	down      bool
}

// watchForeign follows Config.Foreign until the agent shuts down.
func (a *Agent) watchForeign(base context.Context) {
	if a.cfg.Foreign == nil {
		return
	}
	ctx, cancel := context.WithCancel(base)
	a.watchers.Add(1)
	go func() {
		defer a.watchers.Done()
		defer cancel()
		go func() {
			select {
			case <-a.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := a.cfg.Foreign.Watch(ctx, a.foreignUp, a.foreignDown); err != nil && ctx.Err() == nil {
			a.log.Error("watching foreign guests ended", "err", err)
		}
	}()
}

// foreignUp lists rec, a guest of Config.Foreign, and attaches the
// dataplane to its taps, once per set of taps: a guest reported again
// with the same taps only has its run state updated. One with the name of
// one of the agent's own guests is ignored, one with a MAC of theirs is
// listed but not attached.
func (a *Agent) foreignUp(rec api.VM, runState string) {
	name := rec.Spec.Name
	rec.Host, rec.State = a.cfg.Host, api.StateRunning
	a.mu.Lock()
	old := a.foreign[name]
	if old != nil && sameTaps(old.rec, rec) {
		old.runState, old.rec.PID = runState, rec.PID
		a.mu.Unlock()
		return
	}
	log := a.log.With("vm", name, "source", rec.Source)
	if _, ok := a.vms[name]; ok {
		a.mu.Unlock()
		log.Warn("foreign guest ignored: the agent has its own vm of that name")
		return
	}
	rec.Created, rec.Started = time.Now().UTC(), time.Now().UTC()
	g := &foreignGuest{rec: rec, runState: runState}
	conflict := a.macConflict(rec.Spec)
	if conflict != nil {
		g.rec.Reason = "dataplane not attached: " + conflict.Error()
	}
	a.foreign[name] = g
	a.mu.Unlock()

	if old != nil && old.attached {
		a.detach(old.rec.Spec) // its taps changed
	}
	if conflict != nil {
		log.Warn("foreign guest listed, dataplane not attached", "err", conflict)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var attached bool
	for i, tap := range rec.AllTaps() {
		if tap == "" {
			continue
		}
		if err := a.cfg.Handoff.Attach(ctx, rec.Spec, handoff.Tap{NIC: i, Name: tap}); err != nil {
			log.Error("attaching the dataplane to a foreign guest's tap", "tap", tap, "err", err)
			continue
		}
		attached = true
	}
	a.mu.Lock()
	g.attached = attached
	a.mu.Unlock()
	log.Info("foreign guest up", "taps", rec.AllTaps(), "run_state", runState, "attached", attached)
}

// foreignDown forgets the named guest of Config.Foreign and detaches the
// dataplane from its taps.
func (a *Agent) foreignDown(name string) {
	a.mu.Lock()
	g := a.foreign[name]
	delete(a.foreign, name)
	deferred := g != nil && g.migrating != ""
	if deferred {
		g.down = true
	}
	a.mu.Unlock()
	if g == nil {
		return
	}
	if deferred {
		// The migration's source side still needs the entry (BUFFER, then
		// FORWARD): its end detaches it.
		a.log.Info("foreign guest down during its migration", "vm", name, "migration", g.migrating)
		return
	}
	if g.attached {
		a.detach(g.rec.Spec)
	}
	a.log.Info("foreign guest down", "vm", name, "source", g.rec.Source)
}

// sameTaps: a and b have the same NICs on the same taps.
func sameTaps(a, b api.VM) bool {
	macs := func(v api.VM) []string {
		var m []string
		for _, n := range v.Spec.AllNICs() {
			m = append(m, n.MAC+"/"+n.Address)
		}
		return m
	}
	return slices.Equal(a.AllTaps(), b.AllTaps()) && slices.Equal(macs(a), macs(b))
}

// macConflict reports one of the agent's own guests with one of spec's
// MACs. Called with a.mu held.
func (a *Agent) macConflict(spec api.VMSpec) error {
	for name, e := range a.vms {
		if mac := sharedMAC(spec, e.rec.Spec); mac != "" && e.rec.State != api.StateFailed {
			return fmt.Errorf("%w: mac %s is used by vm %s", api.ErrAddressInUse, mac, name)
		}
	}
	return nil
}

// foreignConflict reports a guest of Config.Foreign with spec's name or
// one of its MACs, for the agent's own starts and arrivals. Called with
// a.mu held.
func (a *Agent) foreignConflict(spec api.VMSpec) error {
	if g, ok := a.foreign[spec.Name]; ok {
		return fmt.Errorf("%w: %s is a %s guest", api.ErrExists, spec.Name, g.rec.Source)
	}
	for name, g := range a.foreign {
		if mac := sharedMAC(spec, g.rec.Spec); mac != "" {
			return fmt.Errorf("%w: mac %s is used by %s guest %s", api.ErrAddressInUse, mac, g.rec.Source, name)
		}
	}
	return nil
}

// sharedMAC is a MAC that a NIC of a and one of b have, or "".
func sharedMAC(a, b api.VMSpec) string {
	for _, n := range a.AllNICs() {
		mac, err := net.ParseMAC(n.MAC)
		if err != nil {
			continue
		}
		for _, o := range b.AllNICs() {
			if m, err := net.ParseMAC(o.MAC); err == nil && m.String() == mac.String() {
				return mac.String()
			}
		}
	}
	return ""
}

// foreignRecord is the record of the named guest of Config.Foreign with
// its run state, if there is one.
func (a *Agent) foreignRecord(name string) (api.VM, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.foreign[name]
	if !ok {
		return api.VM{}, "", false
	}
	return g.rec, g.runState, true
}

// refuseForeign is the error of an operation on a guest of
// Config.Foreign (stop, migrate), or nil if name is none.
func (a *Agent) refuseForeign(name, op string) error {
	rec, _, ok := a.foreignRecord(name)
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: %s is a %s guest: nfhandoff does not %s it", api.ErrForeign, name, rec.Source, op)
}

// migrateForeign moves name, a guest of Config.Foreign, with
// Config.Engine: the engine migrates it through the agents' pipe, and the
// hand-off follows the engine's events (session.RunForeignSource).
// accepted, if not nil, is an operator's own migration the engine began
// on the standing socket (operatorMigration): the session carries and
// follows it; it is closed if the migration is refused.
func (a *Agent) migrateForeign(ctx context.Context, req api.MigrateRequest, accepted net.Conn) (m api.Migration, err error) {
	if accepted != nil {
		defer func() {
			if err != nil {
				accepted.Close()
			}
		}()
	}
	if a.cfg.Engine == nil {
		return api.Migration{}, a.refuseForeign(req.VM, "migrate (migratord runs without --libvirt-uri, read-only)")
	}
	if a.cfg.Dial == nil {
		return api.Migration{}, ErrMigrationsDisabled
	}
	a.mu.Lock()
	g := a.foreign[req.VM]
	switch {
	case g == nil:
		err = fmt.Errorf("%w: %s", api.ErrNotFound, req.VM)
	case g.migrating != "":
		err = fmt.Errorf("%w: %s is already migrating (%s)", api.ErrBusy, req.VM, g.migrating)
	case g.runState != "running":
		err = fmt.Errorf("%w: %s is %s, not running", api.ErrBusy, req.VM, g.runState)
	case !g.attached:
		err = fmt.Errorf("%w: %s: the dataplane is not attached to its taps (%s): its traffic cannot be handed off", api.ErrBusy, req.VM, g.rec.Reason)
	default:
		if verr := g.rec.Spec.ValidateForeign(); verr != nil {
			err = fmt.Errorf("%w (the hand-off needs each NIC's address: nfhandoff's <nfh:guest> metadata in the domain)", verr)
		}
	}
	if err == nil {
		g.migrating = "pending"
	}
	a.mu.Unlock()
	if err != nil {
		return api.Migration{}, err
	}
	clear := func() {
		a.mu.Lock()
		g.migrating = ""
		a.mu.Unlock()
	}
	id, err := a.nextMigrationID()
	if err != nil {
		clear()
		return api.Migration{}, err
	}
	started := time.Now().UTC()
	dctx, dcancel := context.WithTimeout(ctx, a.cfg.DialTimeout)
	conn, err := a.cfg.Dial(dctx, req.To)
	dcancel()
	if err != nil {
		clear()
		return api.Migration{}, a.dialFailed(id, req, started, err)
	}
	a.mu.Lock()
	g.migrating = id
	spec := g.rec.Spec
	a.mu.Unlock()
	mctx, cancel, live := a.startLive(id, req, started)
	cfg := session.ForeignSourceConfig{ID: id, Host: a.cfg.Host, Request: req, Spec: spec, Conn: conn,
		Engine: a.cfg.Engine, Handoff: a.cfg.Handoff, Record: a.recordMigration, Logger: a.log, Started: started,
		Accepted: accepted}
	a.sessions.Add(1)
	go func() {
		defer a.sessions.Done()
		defer cancel(nil)
		tctx, tcancel := context.WithTimeout(mctx, time.Duration(req.CompletionTimeout)+2*time.Minute)
		defer tcancel()
		m, moved := session.RunForeignSource(tctx, cfg)
		a.metrics.migrationEnded(m)
		a.log.Info("migration ended", "migration", m.ID, "vm", m.VM, "state", m.State, "moved", moved, "reason", m.Reason)
		a.mu.Lock()
		g.migrating = ""
		down := g.down
		a.mu.Unlock()
		if moved && down {
			a.detach(spec) // FORWARD stays for the dataplane's grace period
		}
		a.endLive(id, live, m)
	}()
	return live.rec, nil
}

// waitForeignAttached waits until the dataplane is attached to the named
// foreign guest's taps (session.DestConfig.WaitAttached).
func (a *Agent) waitForeignAttached(ctx context.Context, name string) error {
	for {
		a.mu.Lock()
		g := a.foreign[name]
		ok := g != nil && g.attached
		a.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
