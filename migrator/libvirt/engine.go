package libvirt

// The Engine (a daemon's socket, its peers' URI, the migration sockets,
// a standing connection for short calls) and the destination's side:
// Arrival, Resume. migrate.go has the source's.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// SocketSubdir is the directory, under the daemon's /run/libvirt, of the
// UNIX sockets a migration's stream runs through (one per migration,
// named by its ID): the source daemon connects its QEMU to the one on its
// host, which the source agent listens on; the destination's QEMU
// listens on the one on its host, which the destination agent connects
// to. One path names both, as libvirt's migrate URI is one for both ends.
const SocketSubdir = "nfhandoff"

// Engine drives the migrations of a libvirt daemon's domains for the
// agent (libvirt mode with the daemon's read-write socket): libvirt's
// peer-to-peer migration with its stream over a UNIX socket that the
// agents carry, the destination left paused for the agent to resume once
// the traffic's hand-off is ready.
type Engine struct {
	sock   string // the daemon's read-write socket
	uri    string // how peers' daemons reach this one (qemu+tls://…)
	runDir string // the daemon's /run/libvirt as this process sees it
	log    *slog.Logger

	mu    sync.Mutex
	calls *golibvirt.Libvirt // see conn
}

// conn is the engine's connection for short calls, dialed once and again
// after it broke: Resume on a connection of its own paid a dial and
// libvirt's handshake inside the guest's pause.
func (e *Engine) conn(ctx context.Context) (*golibvirt.Libvirt, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls != nil {
		select {
		case <-e.calls.Disconnected():
			e.calls = nil
		default:
			return e.calls, nil
		}
	}
	l, err := Dial(ctx, e.sock)
	if err != nil {
		return nil, err
	}
	e.calls = l
	return l, nil
}

// NewEngine returns the Engine of the daemon on UNIX socket sock, which
// peers' daemons reach at uri (libvirt's own TLS: qemu+tls://ADDR/system)
// and whose /run/libvirt this process sees at runDir (the same path on a
// host with one daemon; the daemon's bind mount on the testbed).
func NewEngine(sock, uri, runDir string, log *slog.Logger) *Engine {
	if runDir == "" {
		runDir = "/run/libvirt"
	}
	return &Engine{sock: sock, uri: uri, runDir: runDir, log: log}
}

// URI is how peers' daemons reach this host's daemon.
func (e *Engine) URI() string { return e.uri }

// Socket is the path of migration id's UNIX socket as the daemon (and its
// QEMU) sees it, for the migrate URI, and as the agent does. The agent
// view's directory exists when it returns.
func (e *Engine) Socket(id string) (daemonView, agentView string, err error) {
	dir := filepath.Join(e.runDir, SocketSubdir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("migration socket directory: %w", err)
	}
	name := id + ".sock"
	return filepath.Join("/run/libvirt", SocketSubdir, name), filepath.Join(dir, name), nil
}

// Resume runs domain, left paused here by an incoming migration (one that
// runs already is left alone).
func (e *Engine) Resume(ctx context.Context, domain string) error {
	l, err := e.conn(ctx)
	if err != nil {
		return err
	}
	d, err := l.DomainLookupByName(domain)
	if err != nil {
		return fmt.Errorf("domain %s: %w", domain, err)
	}
	if st, _, err := l.DomainGetState(d, 0); err == nil && golibvirt.DomainState(st) == golibvirt.DomainRunning {
		return nil // libvirt resumed it (a migration without VIR_MIGRATE_PAUSED)
	}
	if err := l.DomainResume(d); err != nil {
		return fmt.Errorf("resuming domain %s: %w", domain, err)
	}
	return nil
}

// Arrival watches for domain's incoming migration to finish here: libvirt
// leaves it paused (VIR_MIGRATE_PAUSED) and reports it suspended, or
// resumes it itself (an operator's migration without --paused). The
// channel closes then; stop ends the watch. It watches from the call on,
// so call it before the migration can finish. libvirt itself resumes a
// migrated domain at this point (without VIR_MIGRATE_PAUSED), before the
// source's confirm step, which then takes the source's QEMU down (about
// 2 s on the testbed): waiting for the source's end would add that to the
// guest's blackout.
func (e *Engine) Arrival(ctx context.Context, domain string) (arrived <-chan struct{}, stop func(), err error) {
	if _, err := e.conn(ctx); err != nil { // Resume's, ready before the pause
		return nil, nil, err
	}
	l, err := Dial(ctx, e.sock)
	if err != nil {
		return nil, nil, err
	}
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	events, err := l.LifecycleEvents(ectx)
	if err != nil {
		cancel()
		l.Disconnect()
		return nil, nil, fmt.Errorf("libvirt events: %w", err)
	}
	ch := make(chan struct{})
	go func() {
		defer l.Disconnect()
		for m := range events {
			if m.Dom.Name == domain && (m.Event == int32(golibvirt.DomainEventSuspended) || m.Event == int32(golibvirt.DomainEventResumed)) {
				close(ch)
				cancel()
				for range events {
				}
				return
			}
		}
	}()
	return ch, cancel, nil
}
