package libvirt

// The source's side of the Engine: libvirt's migration out, asked for
// (Migrate) or an operator's (Outgoing, Follow), on the daemon's
// connections for calls and events (watch).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/engine"
)

// migrateFlags: live, peer to peer (the source daemon talks to the
// destination's on libvirt's own connection), and the destination left
// paused: the agent resumes it once the hand-off can flush.
const migrateFlags = golibvirt.MigrateLive | golibvirt.MigratePeer2peer | golibvirt.MigratePaused

// Migrate has the daemon migrate m.Domain (running here) to the daemon at
// m.DestURI, its stream through the UNIX socket at m.Socket (a daemon
// view, see Socket), at most m.Bandwidth bytes/s (0: libvirt's default,
// rounded up to whole MiB/s). With m.Target and m.Quiesce the switchover
// is the agent's (see agentSwitch), else QEMU's. m.Stopped is called
// once, from another goroutine, when the guest stopped for the
// switchover. Migrate returns when libvirt's migration ended: nil once
// the domain is, paused, at the destination and the source's QEMU is
// gone; an error if the domain stays here (running: resumed if the agent
// had suspended it).
func (e *Engine) Migrate(ctx context.Context, m engine.Migration) error {
	w, err := e.watch(ctx, m.Domain)
	if err != nil {
		return err
	}
	defer w.stop()
	stopped, sw := e.switching(w, m, false)
	go func() {
		for ev := range w.events {
			// The agent's own suspend is reported as a migration's too.
			if ev.Dom.Name == m.Domain && ev.Event == int32(golibvirt.DomainEventSuspended) &&
				ev.Detail == int32(golibvirt.DomainEventSuspendedMigrated) && !sw.suspending() {
				stopped(engine.Stop{}) // QEMU's own switchover
			}
		}
	}()
	params := []golibvirt.TypedParam{{Field: golibvirt.MigrateParamURI, Value: *golibvirt.NewTypedParamValueString("unix://" + m.Socket)}}
	if m.Bandwidth > 0 {
		mib := (m.Bandwidth + 1<<20 - 1) >> 20
		params = append(params, golibvirt.TypedParam{Field: golibvirt.MigrateParamBandwidth, Value: *golibvirt.NewTypedParamValueUllong(mib)})
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.l.DomainMigratePerform3Params(w.d, golibvirt.OptString{m.DestURI}, params, nil, migrateFlags)
		done <- err
	}()
	var merr error
	select {
	case merr = <-done:
	case <-ctx.Done():
		// libvirt's job ends with an abort; the domain stays here.
		if aerr := w.l.DomainAbortJob(w.d); aerr != nil {
			e.log.Warn("aborting libvirt's migration job", "domain", m.Domain, "err", aerr)
		}
		select {
		case merr = <-done:
			if merr == nil {
				break // it had finished: the domain is at the destination
			}
			merr = context.Cause(ctx)
		case <-time.After(time.Minute):
			merr = context.Cause(ctx)
		}
	}
	if sw != nil {
		sw.end(merr != nil)
	}
	if merr != nil {
		return fmt.Errorf("libvirt migration of %s to %s: %w", m.Domain, m.DestURI, merr)
	}
	return nil
}

// switching is m.Stopped called once, and the agent's switchover of m
// when m asks for it and the daemon allows it (else nil: QEMU's); begun:
// the migration is under way (see startAgentSwitch).
func (e *Engine) switching(w *watched, m engine.Migration, begun bool) (stopped func(engine.Stop), sw *agentSwitch) {
	var once sync.Once
	stopped = func(st engine.Stop) {
		if m.Stopped != nil {
			once.Do(func() { m.Stopped(st) })
		}
	}
	if m.Target > 0 && m.Quiesce != nil {
		var err error
		if sw, err = e.startAgentSwitch(w, m, stopped, begun); err != nil {
			e.log.Warn("the switchover stays libvirt's", "domain", m.Domain, "err", err)
		}
	}
	return stopped, sw
}

// watched is what watch opened for one domain's migration.
type watched struct {
	l      *golibvirt.Libvirt // for calls (Migrate's long one among them)
	ev     *golibvirt.Libvirt // for the daemon's events, and the agent's switchover's calls
	d      golibvirt.Domain
	events <-chan golibvirt.DomainEventLifecycleMsg // until stop: drain it
	ctx    context.Context                          // ended by stop
	stop   func()
}

// watch connects twice to the daemon: one connection for calls, with
// domain looked up on it, and one for the daemon's lifecycle events (a
// long call, the migration, must not hold them up). stop cancels the
// events and disconnects both.
func (e *Engine) watch(ctx context.Context, domain string) (*watched, error) {
	l, err := Dial(ctx, e.sock)
	if err != nil {
		return nil, err
	}
	ev, err := Dial(ctx, e.sock)
	if err != nil {
		l.Disconnect()
		return nil, err
	}
	ectx, cancel := context.WithCancel(ctx)
	w := &watched{l: l, ev: ev, ctx: ectx, stop: func() { cancel(); ev.Disconnect(); l.Disconnect() }}
	if w.events, err = ev.LifecycleEvents(ectx); err != nil {
		w.stop()
		return nil, fmt.Errorf("libvirt events: %w", err)
	}
	if w.d, err = l.DomainLookupByName(domain); err != nil {
		w.stop()
		return nil, fmt.Errorf("domain %s: %w", domain, err)
	}
	return w, nil
}

// Outgoing is the one domain here with an outgoing migration under way
// (libvirt's job statistics: operation migration-out), for a connection on
// a PeerSocket. Two at once cannot be told apart: an error.
func (e *Engine) Outgoing(ctx context.Context) (string, error) {
	l, err := Dial(ctx, e.sock)
	if err != nil {
		return "", err
	}
	defer l.Disconnect()
	doms, _, err := l.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive)
	if err != nil {
		return "", fmt.Errorf("listing domains: %w", err)
	}
	var out []string
	for _, d := range doms {
		typ, params, err := l.DomainGetJobStats(d, 0)
		if err != nil || golibvirt.DomainJobType(typ) == golibvirt.DomainJobNone {
			continue
		}
		for _, p := range params {
			if p.Field != golibvirt.DomainJobOperationStr {
				continue
			}
			if v, ok := p.Value.I.(int32); ok && golibvirt.DomainJobOperation(v) == golibvirt.DomainJobOperationStrMigrationOut {
				out = append(out, d.Name)
			}
		}
	}
	switch len(out) {
	case 0:
		return "", errors.New("no domain here is migrating out")
	case 1:
		return out[0], nil
	}
	return "", fmt.Errorf("domains %v are all migrating out: which one uses the socket is unknown", out)
}

// Follow follows m.Domain's outgoing migration, started by someone else
// (an operator's virsh migrate), until it ends, the switchover the
// agent's as in Migrate when m asks for it (m's destination, socket and
// bandwidth are the operator's, unused): m.Stopped is called once the
// guest stopped for the switchover; nil once the domain has left
// (stopped, migrated); an error once it runs here again or its migration
// job is gone with the domain still here.
func (e *Engine) Follow(ctx context.Context, m engine.Migration) (err error) {
	w, err := e.watch(ctx, m.Domain)
	if err != nil {
		return err
	}
	defer w.stop()
	stopped, sw := e.switching(w, m, true)
	if sw != nil {
		defer func() { sw.end(err != nil) }()
	}
	domain := m.Domain
	l, d, events := w.l, w.d, w.events
	var suspended bool
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case m, ok := <-events:
			if !ok {
				return fmt.Errorf("libvirt events of %s ended: %w", domain, context.Cause(ctx))
			}
			if m.Dom.Name != domain {
				continue
			}
			switch golibvirt.DomainEventType(m.Event) {
			case golibvirt.DomainEventSuspended:
				if m.Detail == int32(golibvirt.DomainEventSuspendedMigrated) && !suspended {
					suspended = true
					if !sw.suspending() { // the agent's own suspend calls stopped itself
						stopped(engine.Stop{})
					}
				}
			case golibvirt.DomainEventResumed:
				if suspended {
					return fmt.Errorf("libvirt's migration of %s failed: it runs here again", domain)
				}
			case golibvirt.DomainEventStopped:
				if m.Detail == int32(golibvirt.DomainEventStoppedMigrated) {
					return nil // it left
				}
				return fmt.Errorf("domain %s ended here during its migration (event detail %d)", domain, m.Detail)
			}
		case <-poll.C:
			// A migration that fails before the switchover sends no
			// lifecycle event: its job just ends.
			typ, _, _, _, _, _, _, _, _, _, _, _, err := l.DomainGetJobInfo(d)
			if err == nil && golibvirt.DomainJobType(typ) == golibvirt.DomainJobNone && !suspended {
				st, _, serr := l.DomainGetState(d, 0)
				if serr == nil && golibvirt.DomainState(st) == golibvirt.DomainRunning {
					return fmt.Errorf("libvirt's migration of %s ended with the domain still running here", domain)
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("following %s's migration: %w", domain, context.Cause(ctx))
		}
	}
}
