package libvirt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// conn is the part of go-libvirt's client a Watcher uses, all of it
// read-only; tests use a fake.
type conn interface {
	ConnectListAllDomains(needResults int32, flags golibvirt.ConnectListAllDomainsFlags) ([]golibvirt.Domain, uint32, error)
	DomainGetState(dom golibvirt.Domain, flags uint32) (int32, int32, error)
	DomainGetXMLDesc(dom golibvirt.Domain, flags golibvirt.DomainXMLFlags) (string, error)
	LifecycleEvents(ctx context.Context) (<-chan golibvirt.DomainEventLifecycleMsg, error)
	Disconnected() <-chan struct{}
	Disconnect() error
}

// DefaultRetry is how long a Watcher waits before it dials its daemon
// again.
const DefaultRetry = 2 * time.Second

// Watcher follows the running domains of one libvirt daemon for the
// agent's libvirt mode (migratord --libvirt-socket; it is an
// agent.Foreign). It only reads: it lists domains, reads their live XML
// and state, and listens to lifecycle events; it never defines, starts,
// stops or changes a domain.
type Watcher struct {
	dial  func(ctx context.Context) (conn, error)
	log   *slog.Logger
	retry time.Duration
}

// NewWatcher watches the daemon listening on the UNIX socket sock. log
// may be nil (discard).
func NewWatcher(sock string, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		dial: func(ctx context.Context) (conn, error) {
			l, err := Dial(ctx, sock)
			if err != nil {
				return nil, err
			}
			return l, nil
		},
		log:   log.With("libvirt", sock),
		retry: DefaultRetry,
	}
}

// Watch reports every running domain to up (its record from its live
// XML, see Record, and its state, e.g. "running" or "paused"), again
// whenever a lifecycle event comes for it, and to down when it no longer
// runs. A lost or refused connection is dialled again every retry; the
// domains are then listed anew, and the ones gone meanwhile reported down.
// It returns when ctx ends.
func (w *Watcher) Watch(ctx context.Context, up func(rec api.VM, runState string), down func(name string)) error {
	known := map[string]bool{}
	quiet := false // a refused dial was logged: the next ones at debug
	for {
		connected, err := w.session(ctx, known, up, down)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case connected:
			w.log.Warn("libvirt connection lost: dialling again", "every", w.retry, "err", err)
			quiet = false
		case !quiet:
			w.log.Warn("cannot reach libvirt: dialling again", "every", w.retry, "err", err)
			quiet = true
		default:
			w.log.Debug("cannot reach libvirt", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.retry):
		}
	}
}

// session is one connection: subscribe, list, then follow the events
// until the connection or ctx ends. known are the domains reported up.
// connected: the dial succeeded.
func (w *Watcher) session(ctx context.Context, known map[string]bool, up func(api.VM, string), down func(string)) (connected bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := w.dial(dctx)
	cancel()
	if err != nil {
		return false, err
	}
	return true, w.follow(ctx, c, known, up, down)
}

// follow subscribes to c's lifecycle events, reports the running domains
// (and the known ones gone), then each domain an event comes for.
func (w *Watcher) follow(ctx context.Context, c conn, known map[string]bool, up func(api.VM, string), down func(string)) error {
	defer c.Disconnect()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	// Subscribed before listing: a domain that starts in between is
	// reported by its event.
	events, err := c.LifecycleEvents(sctx)
	if err != nil {
		return fmt.Errorf("subscribing to lifecycle events: %w", err)
	}
	doms, _, err := c.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive)
	if err != nil {
		return fmt.Errorf("listing domains: %w", err)
	}
	w.log.Info("watching libvirt's domains", "running", len(doms))
	running := map[string]bool{}
	for _, d := range doms {
		running[d.Name] = true
	}
	for name := range known {
		if !running[name] {
			delete(known, name)
			down(name)
		}
	}
	for _, d := range doms {
		w.report(c, d, known, up, down)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Disconnected():
			return errors.New("disconnected")
		case ev, ok := <-events:
			if !ok {
				return errors.New("lifecycle event stream closed")
			}
			w.log.Debug("lifecycle event", "domain", ev.Dom.Name, "event", ev.Event, "detail", ev.Detail)
			w.report(c, ev.Dom, known, up, down)
		}
	}
}

// report reads d's state and, if it runs (or is paused), its live XML,
// and reports it up; a domain that is gone or shut off is reported down
// if it was up.
func (w *Watcher) report(c conn, d golibvirt.Domain, known map[string]bool, up func(api.VM, string), down func(string)) {
	gone := func() {
		if known[d.Name] {
			delete(known, d.Name)
			down(d.Name)
		}
	}
	state, _, err := c.DomainGetState(d, 0)
	if err != nil || !active(golibvirt.DomainState(state)) {
		gone() // a transient domain that stopped is no longer found
		return
	}
	x, err := c.DomainGetXMLDesc(d, 0)
	if err != nil {
		w.log.Warn("reading a domain's xml", "domain", d.Name, "err", err)
		gone()
		return
	}
	rec, err := Record(x)
	if err != nil {
		w.log.Warn("domain not followed", "domain", d.Name, "err", err)
		gone()
		return
	}
	known[d.Name] = true
	up(rec, stateName(golibvirt.DomainState(state)))
}

// active: a domain in state s has a QEMU, and taps.
func active(s golibvirt.DomainState) bool {
	return s != golibvirt.DomainNostate && s != golibvirt.DomainShutoff
}

// stateName is virsh's name of a domain state.
func stateName(s golibvirt.DomainState) string {
	switch s {
	case golibvirt.DomainRunning:
		return "running"
	case golibvirt.DomainBlocked:
		return "blocked"
	case golibvirt.DomainPaused:
		return "paused"
	case golibvirt.DomainShutdown:
		return "in shutdown"
	case golibvirt.DomainCrashed:
		return "crashed"
	case golibvirt.DomainPmsuspended:
		return "pmsuspended"
	}
	return fmt.Sprintf("state %d", s)
}
