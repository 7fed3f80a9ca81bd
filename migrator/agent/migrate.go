package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// ErrMigrationsDisabled is returned for migration requests to an agent
// without a QUIC listener.
var ErrMigrationsDisabled = fmt.Errorf("%w: migrations are disabled on this agent (migratord runs without --quic-listen)", api.ErrMigration)

// liveMigration is a migration under way on this agent.
type liveMigration struct {
	cancel context.CancelCauseFunc // nil at the destination
	rec    api.Migration
	done   chan struct{}
}

// Migrate starts moving a VM to req.To. It dials the destination first,
// so an unknown, unreachable or refused peer is an error here; then the
// migration runs in the background and Migrate returns its record.
func (a *Agent) Migrate(ctx context.Context, req api.MigrateRequest) (api.Migration, error) {
	if a.cfg.Dial == nil {
		return api.Migration{}, ErrMigrationsDisabled
	}
	req.Defaults()
	if err := req.Validate(); err != nil {
		return api.Migration{}, err
	}
	if req.To == a.cfg.Host {
		return api.Migration{}, fmt.Errorf("%w: %s is this host", api.ErrInvalidRequest, req.To)
	}
	if _, _, ok := a.foreignRecord(req.VM); ok {
		return a.migrateForeign(ctx, req, nil)
	}
	e, err := a.lookup(req.VM)
	if err != nil {
		return api.Migration{}, err
	}
	if err := a.storedVM(req.VM); err != nil {
		return api.Migration{}, err
	}
	id, err := a.nextMigrationID()
	if err != nil {
		return api.Migration{}, err
	}
	a.mu.Lock()
	inst, rec := e.inst, e.rec
	switch {
	case e.gone:
		err = fmt.Errorf("%w: %s", api.ErrNotFound, req.VM)
	case e.migrating != "":
		err = fmt.Errorf("%w: %s is already migrating (%s)", api.ErrBusy, req.VM, e.migrating)
	case e.stopped || inst == nil || rec.State != api.StateRunning:
		err = fmt.Errorf("%w: %s is %s, not running", api.ErrBusy, req.VM, rec.State)
	}
	if err == nil {
		e.migrating = id
	}
	a.mu.Unlock()
	if err != nil {
		return api.Migration{}, err
	}
	guest, ok := inst.(session.Guest)
	if !ok {
		a.clearMigrating(e)
		return api.Migration{}, fmt.Errorf("%w: this runtime cannot migrate guests", api.ErrMigration)
	}

	started := time.Now().UTC()
	dctx, dcancel := context.WithTimeout(ctx, a.cfg.DialTimeout)
	conn, err := a.cfg.Dial(dctx, req.To)
	dcancel()
	if err != nil {
		a.clearMigrating(e)
		return api.Migration{}, a.dialFailed(id, req, started, err)
	}

	gang, leaveGang, err := a.gangs.join(req.Gang, req.To)
	if err != nil {
		a.clearMigrating(e)
		return api.Migration{}, fmt.Errorf("gang %s: %w", req.Gang, err)
	}
	mctx, cancel, live := a.startLive(id, req, started)

	cfg := session.SourceConfig{
		ID: id, Host: a.cfg.Host, Request: req, Spec: rec.Spec, Guest: guest, Gang: gang,
		Dir: filepath.Dir(rec.QMPSocket), Conn: conn,
		Dial:    func(ctx context.Context) (session.Conn, error) { return a.cfg.Dial(ctx, req.To) },
		Handoff: a.cfg.Handoff, Record: a.recordMigration, Commit: a.storeCommitted, Logger: a.log, Started: started,
		Debug: a.cfg.Debug, FixedPause: a.lastFixedPause(req.To), Blackouts: a.blackouts,
		WorkingSet: a.workingSet(req.VM), QuietGuest: a.quietReports(req.VM),
	}
	a.sessions.Add(1)
	go func() {
		defer a.sessions.Done()
		defer cancel(nil)
		defer leaveGang()
		tctx, tcancel := context.WithTimeout(mctx, time.Duration(req.CompletionTimeout)+2*time.Minute)
		defer tcancel()
		m, out := session.RunSource(tctx, cfg)
		a.sourceEnded(e, inst, m, out)
		a.endLive(id, live, m)
	}()
	return live.rec, nil
}

// startLive registers source migration id as live and records it; the
// context is its session's, cancelled (with a cause) by an operator's
// cancel or the agent's end.
func (a *Agent) startLive(id string, req api.MigrateRequest, started time.Time) (context.Context, context.CancelCauseFunc, *liveMigration) {
	mctx, cancel := context.WithCancelCause(a.baseContext())
	live := &liveMigration{cancel: cancel, done: make(chan struct{}),
		rec: api.Migration{ID: id, VM: req.VM, From: a.cfg.Host, To: req.To, Role: "source",
			State: api.MigrationSetup, Request: req, Started: started}}
	a.mu.Lock()
	a.migs[id] = live
	a.mu.Unlock()
	a.recordMigration(live.rec, true)
	a.metrics.migrationsStarted.WithLabelValues("source").Inc()
	return mctx, cancel, live
}

// dialFailed records migration id as failed by err, the dial of its
// destination, and returns err as the API's error.
func (a *Agent) dialFailed(id string, req api.MigrateRequest, started time.Time, err error) error {
	err = peerError(req.To, err)
	m := api.Migration{ID: id, VM: req.VM, From: a.cfg.Host, To: req.To, Role: "source",
		State: api.MigrationFailed, Reason: err.Error(), Request: req, Started: started, Ended: time.Now().UTC()}
	a.recordMigration(m, true)
	a.metrics.migrationEnded(m)
	a.log.Warn("migration refused", "migration", id, "vm", req.VM, "to", req.To, "err", err)
	return err
}

// sourceEnded brings the VM's entry in line with where the guest is.
func (a *Agent) sourceEnded(e *entry, inst Instance, m api.Migration, out session.Outcome) {
	a.metrics.migrationEnded(m)
	if m.PausedParts != nil {
		a.learnFixedPause(m.To, m.PausedParts.Fixed())
	}
	a.log.Info("migration ended", "migration", m.ID, "vm", m.VM, "state", m.State, "outcome", out, "reason", m.Reason)
	if out == session.Moved {
		e.op.Lock()
		a.detachEntry(e) // the entry stays in FORWARD for the dataplane's grace period
		a.storeLater(deleteVM(m.VM))
		a.mu.Lock()
		e.stopped, e.inst, e.migrating = true, nil, ""
		a.mu.Unlock()
		a.forget(e)
		e.op.Unlock()
		return
	}
	a.mu.Lock()
	if out == session.Unknown || out == session.Lost {
		e.rec.Reason = "migration " + m.ID + ": " + m.Reason
	}
	if out == session.Unknown {
		a.mu.Unlock()
		a.goSettle(e, inst, m)
		return
	}
	e.migrating = ""
	a.mu.Unlock()
	select {
	case <-inst.Done():
		a.exited(e, inst) // the guest died during the migration
	default:
		a.startReports(m.VM) // quieted for the move that left it here
	}
}

func (a *Agent) clearMigrating(e *entry) {
	a.mu.Lock()
	e.migrating = ""
	a.mu.Unlock()
}

// peerError maps a dial error onto the API's sentinels.
func peerError(host string, err error) error {
	switch {
	case errors.Is(err, transport.ErrUnknownPeer):
		return fmt.Errorf("%w: %s is not in the peers file: %v", api.ErrUnknownHost, host, err)
	case errors.Is(err, api.ErrUnknownHost), errors.Is(err, api.ErrPeer):
		return err
	}
	return fmt.Errorf("%w: %v", api.ErrPeer, err)
}

// nextMigrationID allocates "<host>-<n>".
func (a *Agent) nextMigrationID() (string, error) {
	raw, err := a.cfg.Store.NextMigrationID()
	if err != nil {
		return "", err
	}
	n, err := strconv.ParseUint(raw[strings.LastIndexByte(raw, '-')+1:], 10, 64)
	if err != nil {
		return "", fmt.Errorf("migration id %q: %w", raw, err)
	}
	return fmt.Sprintf("%s-%d", a.cfg.Host, n), nil
}

// baseContext is the serving agent's life (Background before Serve).
func (a *Agent) baseContext() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.base == nil {
		return context.Background()
	}
	return a.base
}

// lastFixedPause is the smoothed fixed part of the pause measured towards
// host, 0 if none yet (the policy's default then).
func (a *Agent) lastFixedPause(host string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fixedPause[host]
}

// learnFixedPause folds one move's measure into the next move's budget:
// half the last estimate, half the new measure, so one slow move does not
// starve the next ones of their page budget, and a host that is slower
// now is followed within a few moves.
func (a *Agent) learnFixedPause(host string, d time.Duration) {
	if d <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fixedPause == nil {
		a.fixedPause = map[string]time.Duration{}
	}
	if last, ok := a.fixedPause[host]; ok {
		d = (last + d) / 2
	}
	a.fixedPause[host] = d
}
