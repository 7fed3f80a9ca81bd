package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// Asking the destination about a migration whose outcome is unknown: the
// first interval, doubled up to the last.
const (
	settleFirst = time.Second
	settleLast  = 10 * time.Second
)

// unsettled is an outgoing migration whose outcome is unknown: committed,
// then the destination was lost (or this agent restarted) before it said
// that the guest runs there. The guest stays paused here while settle asks.
type unsettled struct {
	decide chan resolution
}

// resolution is an operator's word on an unsettled migration, and where
// settle sends back the record it ended with.
type resolution struct {
	guestOn string // api.GuestOnSource or api.GuestOnDestination
	done    chan api.Migration
}

// settle learns the outcome of outgoing migration m (state unknown) of
// guest e: it asks m's destination until it answers, and then either
// stops the paused copy here (the destination runs the guest) or resumes
// it (the destination says it never ran it and never will). An operator's
// ResolveMigration decides when the destination cannot be reached. The
// VM takes part in no other migration meanwhile; an agent shutting down
// leaves m unknown for the next run to settle. Call it through goSettle.
func (a *Agent) settle(e *entry, inst Instance, m api.Migration, u *unsettled) {
	log := a.log.With("migration", m.ID, "vm", m.VM, "to", m.To)
	log.Warn("outcome unknown: asking the destination until it answers", "reason", m.Reason)
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(a.life, cancel) // the agent shuts down
	defer stop()
	defer cancel()
	defer func() {
		a.mu.Lock()
		delete(a.unsettled, m.ID)
		a.mu.Unlock()
	}()
	wait := settleFirst
	for {
		rep, err := a.askDestination(ctx, m)
		if err == nil && a.settleOn(ctx, e, inst, &m, rep, "") {
			return
		}
		if err != nil {
			log.Debug("asking the destination", "err", err)
		}
		select {
		case <-ctx.Done():
			log.Info("agent shutting down: migration left unknown for the next run")
			return
		case <-time.After(wait):
			wait = min(2*wait, settleLast)
		case r := <-u.decide:
			r.done <- a.resolveBy(ctx, e, inst, &m, r.guestOn, log)
			return
		}
	}
}

// goSettle marks m unknown (record, VM and the unsettled set, before it
// returns) and runs settle in the background; shutdown waits for it.
func (a *Agent) goSettle(e *entry, inst Instance, m api.Migration) {
	u := &unsettled{decide: make(chan resolution)}
	m.State = api.MigrationUnknown
	a.mu.Lock()
	e.migrating = m.ID
	if e.rec.Reason == "" {
		e.rec.Reason = "migration " + m.ID + ": " + m.Reason
	}
	a.unsettled[m.ID] = u
	a.mu.Unlock()
	a.recordMigration(m, true)
	a.sessions.Add(1)
	go func() {
		defer a.sessions.Done()
		a.settle(e, inst, m, u)
	}()
}

// settling reports whether migration id is being settled.
func (a *Agent) settling(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unsettled[id] != nil
}

// askDestination asks m's destination what became of m.
func (a *Agent) askDestination(ctx context.Context, m api.Migration) (wire.StatusReply, error) {
	if a.cfg.Dial == nil {
		return wire.StatusReply{}, errors.New("no peer connections configured")
	}
	rep, _, err := session.AskStatus(ctx, func(ctx context.Context) (session.Conn, error) { return a.cfg.Dial(ctx, m.To) }, m.ID)
	return rep, err
}

// settleOn ends m by the destination's answer rep and reports whether it
// did: running there, or failed there. note (may be empty) is added to
// the reason.
func (a *Agent) settleOn(ctx context.Context, e *entry, inst Instance, m *api.Migration, rep wire.StatusReply, note string) bool {
	switch rep.State {
	case wire.StatusRunning:
		a.settleMoved(ctx, e, inst, m, fmt.Sprintf("%s runs the guest (it said so after the outcome was unknown)%s", m.To, note))
		return true
	case wire.StatusFailed:
		a.settleStayed(ctx, e, inst, m, fmt.Sprintf("%s never ran the guest (%s); resumed here%s", m.To, rep.Reason, note))
		return true
	}
	return false
}

// resolveBy ends m as the operator said, unless the destination answers
// now (its word wins: it knows whether it ran the guest).
func (a *Agent) resolveBy(ctx context.Context, e *entry, inst Instance, m *api.Migration, guestOn string, log *slog.Logger) api.Migration {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	rep, err := a.askDestination(actx, *m)
	cancel()
	if err == nil && a.settleOn(ctx, e, inst, m, rep, "; the operator's resolution was not needed") {
		return *m
	}
	log.Warn("migration resolved by the operator", "guest_on", guestOn, "destination", err)
	switch guestOn {
	case api.GuestOnDestination:
		a.settleMoved(ctx, e, inst, m, fmt.Sprintf("resolved by the operator: the guest runs on %s (%s not answering)", m.To, m.To))
	default:
		a.settleStayed(ctx, e, inst, m, fmt.Sprintf("resolved by the operator: %s does not run the guest (not answering); resumed here", m.To))
	}
	return *m
}

// settleMoved ends m as moved: the paused copy here is stopped and the VM
// forgotten; the frames its dataplane entry still held are counted as
// dropped ("detached").
func (a *Agent) settleMoved(ctx context.Context, e *entry, inst Instance, m *api.Migration, reason string) {
	if g, ok := inst.(session.Guest); ok && session.InPostcopy(ctx, g) {
		// The guest runs there on pages only this QEMU has: finish the
		// post-copy first (its stream died with the previous run).
		a.log.Warn("the destination runs the guest in post-copy: resuming the stream before quitting here", "migration", m.ID, "vm", m.VM)
		err := session.FinishPostcopy(ctx, session.SourceConfig{ID: m.ID, Host: a.cfg.Host, Request: m.Request, Spec: e.rec.Spec,
			Guest: g, Dir: filepath.Dir(e.rec.QMPSocket), Logger: a.log, Debug: a.cfg.Debug,
			Dial: func(ctx context.Context) (session.Conn, error) { return a.cfg.Dial(ctx, m.To) }})
		switch {
		case err != nil && ctx.Err() != nil:
			return // the agent stops: the next run finishes it
		case err != nil:
			reason += "; the post-copy could not be finished: " + err.Error()
			a.log.Error("finishing the post-copy after the restart", "migration", m.ID, "err", err)
		default:
			m.Recoveries++
			reason += "; its post-copy, broken by the restart, was resumed from here and completed"
		}
	}
	a.mu.Lock()
	e.stopped = true
	a.mu.Unlock()
	if err := inst.Stop(ctx); err != nil {
		a.log.Error("stopping the source copy of a guest that moved", "vm", m.VM, "err", err)
	}
	a.detachEntry(e)
	m.Handoff = withRestart(m.Handoff, a.cfg.Handoff.Stats(e.rec.Spec), true)
	a.storeLater(deleteVM(m.VM))
	a.mu.Lock()
	e.inst, e.migrating = nil, ""
	a.mu.Unlock()
	a.forget(e)
	m.State, m.Reason, m.Ended = api.MigrationCompleted, reason, time.Now().UTC()
	a.recordMigration(*m, true)
	a.log.Warn("unknown outcome settled: the guest runs at the destination", "migration", m.ID, "reason", reason)
}

// settleStayed ends m as failed with the guest resumed here and the
// hand-off rolled back (the buffered frames back into the tap).
func (a *Agent) settleStayed(ctx context.Context, e *entry, inst Instance, m *api.Migration, reason string) {
	if err := a.rollBackHere(ctx, e, inst, m); err != nil {
		reason += "; resuming failed: " + err.Error()
	}
	a.mu.Lock()
	e.migrating, e.rec.Reason = "", ""
	a.mu.Unlock()
	m.State, m.Reason, m.Ended = api.MigrationFailed, reason, time.Now().UTC()
	a.recordMigration(*m, true)
	a.startReports(m.VM)
	a.log.Warn("unknown outcome settled: the guest runs here", "migration", m.ID, "reason", reason)
}

// ResolveMigration settles outgoing migration id, whose outcome is unknown,
// as the operator says: guestOn is api.GuestOnSource (the destination does
// not run the guest: resume it here) or api.GuestOnDestination (it does:
// stop the copy here). The destination is asked once more first, and its
// answer wins. Only for a migration in state unknown.
func (a *Agent) ResolveMigration(ctx context.Context, id string, req api.ResolveRequest) (api.Migration, error) {
	if err := req.Validate(); err != nil {
		return api.Migration{}, err
	}
	a.mu.Lock()
	u := a.unsettled[id]
	a.mu.Unlock()
	if u == nil {
		m, err := a.GetMigration(id)
		if err != nil {
			return api.Migration{}, err
		}
		return api.Migration{}, fmt.Errorf("%w: migration %s is %s, not unknown: nothing to resolve", api.ErrInvalidRequest, id, m.State)
	}
	r := resolution{guestOn: req.GuestOn, done: make(chan api.Migration, 1)}
	select {
	case u.decide <- r:
	case <-ctx.Done():
		return api.Migration{}, ctx.Err()
	}
	select {
	case m := <-r.done:
		return m, nil
	case <-ctx.Done():
		return api.Migration{}, ctx.Err()
	}
}
