package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
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
	a.mu.Unlock()
	if g == nil {
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
