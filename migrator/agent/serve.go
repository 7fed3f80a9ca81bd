package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout bounds the wait for requests in flight at shutdown.
const ShutdownTimeout = 10 * time.Second

// Serve gives the hand-off its tunnel peers (refreshTunnelPeers),
// re-adopts the stored VMs, then serves the API on ln until ctx ends.
// At shutdown it stops serving, drops its QMP connections and leaves every
// guest running. An Agent serves once.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	a.refreshTunnelPeers()
	if err := a.reconcile(ctx); err != nil {
		a.shutdown()
		ln.Close()
		return err
	}
	a.log.Info("agent serving", "addr", ln.Addr().String(), "vms", len(a.ListVMs()))

	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	a.mu.Lock()
	a.base = base
	a.mu.Unlock()
	go a.probeAccel(base)
	a.watchForeign(base)
	a.listenOperators(base)

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving api: %w", err)
	case <-ctx.Done():
		a.log.Info("agent shutting down; guests keep running")
		sctx, scancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		cancel() // ends starts in flight
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		scancel()
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serving api: %w", err)
		}
	}
	a.shutdown()
	return serveErr
}

// startContext bounds one VM start by StartTimeout and the agent's life.
func (a *Agent) startContext() (context.Context, context.CancelFunc) {
	a.mu.Lock()
	base := a.base
	a.mu.Unlock()
	if base == nil {
		base = context.Background()
	}
	return context.WithTimeout(base, a.cfg.StartTimeout)
}

// shutdown stops the watchers, tries the store's failed writes a last
// time and detaches from every instance without stopping its guest.
func (a *Agent) shutdown() {
	// Migrations under way roll back first (their contexts end with the
	// agent's): the guests stay where they ran.
	a.endLife()
	a.sessions.Wait()
	a.dest.Wait()
	a.quitOnce.Do(func() { close(a.quit) })
	a.watchers.Wait()
	a.stopRetrying()
	a.mu.Lock()
	var insts []Instance
	for _, e := range a.vms {
		if e.inst != nil {
			insts = append(insts, e.inst)
		}
	}
	a.mu.Unlock()
	for _, inst := range insts {
		if d, ok := inst.(detacher); ok {
			if err := d.Detach(); err != nil {
				a.log.Warn("detaching from vm", "vm", inst.Record().Spec.Name, "err", err)
			}
		}
	}
	a.log.Info("agent stopped", "vms_left_running", len(insts))
}
