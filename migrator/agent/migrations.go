package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/store"
)

// ReasonAgentRestarted is the failure reason of a migration found
// unfinished when the agent starts.
const ReasonAgentRestarted = "agent restarted during the migration"

// ReasonRestartedAfterArrival is the note on an incoming migration found
// unfinished although its guest runs here: the agent restarted after the
// guest started, before the migration's end.
const ReasonRestartedAfterArrival = "agent restarted after the guest started here"

// recordMigration keeps a migration's live record and stores it when
// persist is set: now, or once the store takes it (storeLater).
func (a *Agent) recordMigration(m api.Migration, persist bool) {
	a.mu.Lock()
	// A live record shows the end only once the agent has brought the
	// VM's entry in line with it (endLive): a client that reads
	// "completed" must no longer find the VM here.
	if live := a.migs[m.ID]; live != nil && !api.Ended(m.State) {
		live.rec = m
	}
	a.mu.Unlock()
	if !persist {
		return
	}
	w, err := putMigration(m)
	if err != nil {
		a.log.Error("storing migration record", "migration", m.ID, "err", err)
		return
	}
	a.storeLater(w)
}

// storeCommitted stores source record m, committed, before its session
// sends Commit (session.SourceConfig.Commit): a store that fails it keeps
// the migration from committing, since an agent restarted after the commit
// must know it (or it would resume the guest the destination runs).
func (a *Agent) storeCommitted(m api.Migration) error {
	w, err := putMigration(m)
	if err == nil {
		err = a.storeNow(w)
	}
	if err != nil {
		return fmt.Errorf("storing the commit of migration %s: %w", m.ID, err)
	}
	return nil
}

// endLive publishes the final record m of source migration id, once sourceEnded
// has moved or kept the VM, and forgets the live migration.
func (a *Agent) endLive(id string, live *liveMigration, m api.Migration) {
	a.mu.Lock()
	live.rec = m
	delete(a.migs, id)
	a.mu.Unlock()
	close(live.done)
}

// GetMigration returns a migration's record, live while it runs here as
// the source, else as last written (a write the store failed is kept).
func (a *Agent) GetMigration(id string) (api.Migration, error) {
	a.mu.Lock()
	live := a.migs[id]
	a.mu.Unlock()
	if live != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		return live.rec, nil
	}
	raw, ok := a.keptMigration(id)
	if !ok {
		var err error
		raw, err = a.cfg.Store.GetMigration(id)
		if errors.Is(err, store.ErrNotFound) {
			return api.Migration{}, fmt.Errorf("%w: %s", api.ErrNoMigration, id)
		}
		if err != nil {
			return api.Migration{}, err
		}
	}
	var m api.Migration
	if err := json.Unmarshal(raw, &m); err != nil {
		return api.Migration{}, fmt.Errorf("decoding migration %s: %w", id, err)
	}
	return m, nil
}

// ListMigrations returns every migration record, newest first.
func (a *Agent) ListMigrations() ([]api.Migration, error) {
	raws, err := a.cfg.Store.ListMigrations()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(raws))
	for _, r := range raws {
		ids = append(ids, r.ID)
	}
	for _, id := range a.keptMigrationIDs() {
		if !slices.Contains(ids, id) {
			ids = append(ids, id) // its first write is not stored yet
		}
	}
	out := make([]api.Migration, 0, len(ids))
	for _, id := range ids {
		m, err := a.GetMigration(id)
		if err != nil {
			a.log.Warn("unreadable migration record", "migration", id, "err", err)
			continue
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// CancelMigration cancels a migration running here as the source; the
// guest stays on the source unless the migration has already committed.
// It returns the record as it stands (an ended one unchanged).
func (a *Agent) CancelMigration(id string) (api.Migration, error) {
	a.mu.Lock()
	live := a.migs[id]
	a.mu.Unlock()
	if live == nil {
		return a.GetMigration(id)
	}
	if live.cancel == nil {
		return api.Migration{}, fmt.Errorf("%w: cancel %s at its source", api.ErrInvalidRequest, id)
	}
	a.log.Info("migration cancel requested", "migration", id)
	live.cancel(session.ErrCancelled)
	select {
	case <-live.done:
	case <-time.After(5 * time.Second):
	}
	return a.GetMigration(id)
}

// AttachVerification stores netctl's verification in an ended record.
func (a *Agent) AttachVerification(id string, v json.RawMessage) (api.Migration, error) {
	m, err := a.GetMigration(id)
	if err != nil {
		return api.Migration{}, err
	}
	if !api.Ended(m.State) {
		return api.Migration{}, fmt.Errorf("%w: migration %s is still %s", api.ErrBusy, id, m.State)
	}
	if !json.Valid(v) {
		return api.Migration{}, fmt.Errorf("%w: verification is not JSON", api.ErrInvalidRequest)
	}
	m.Verification = append(json.RawMessage(nil), v...)
	a.recordMigration(m, true)
	return m, nil
}

// reconcileMigrations ends the migrations a previous agent left unfinished:
// their sessions died with it. An incoming one whose guest was handed over
// here (the VM was adopted running: its record says running only once the
// guest ran here) completed, unless it was in post-copy, which cannot end
// without its source: the source asks, and must never resume a guest that
// ran here; its hand-off ends when the source's flush comes
// (settleArrival). Outgoing ones committed before the restart are being
// settled (recoverOutgoing). The others failed.
func (a *Agent) reconcileMigrations() error {
	raws, err := a.cfg.Store.ListMigrations()
	if err != nil {
		return fmt.Errorf("reconciling migrations: %w", err)
	}
	for _, r := range raws {
		var m api.Migration
		if json.Unmarshal(r.Data, &m) != nil || api.Ended(m.State) || a.settling(m.ID) {
			continue
		}
		// The record may not say post-copy yet (the agent died between
		// the cont and that write): the guest's QEMU does.
		if m.Role == "destination" && (m.Postcopy || a.guestInPostcopy(m.VM)) && a.resumePostcopy(m) {
			continue
		}
		if spec, ok := a.runningSpec(m.VM); ok && m.Role == "destination" && !m.Postcopy {
			a.settleArrival(spec, m)
			continue
		}
		m.State, m.Reason, m.Ended = api.MigrationFailed, ReasonAgentRestarted, time.Now().UTC()
		a.recordMigration(m, true)
		a.log.Warn("unfinished migration marked failed", "migration", m.ID, "role", m.Role, "vm", m.VM)
	}
	// Guests adopted with an incoming migration that is now settled:
	// their reports can be read (startReports).
	a.mu.Lock()
	var names []string
	for name := range a.vms {
		names = append(names, name)
	}
	a.mu.Unlock()
	for _, name := range names {
		if !a.migrationUnfinished(name) {
			a.startReports(name)
		}
	}
	return nil
}

// resumePostcopy takes over incoming post-copy m, which the previous run
// left when it stopped, if its guest was adopted running here: the source
// still holds the pages the guest lacks and comes back to resume the
// stream (session.Server.ResumePostcopy). The VM refuses stop and
// migrate meanwhile.
func (a *Agent) resumePostcopy(m api.Migration) bool {
	a.mu.Lock()
	e := a.vms[m.VM]
	var g session.Guest
	if e != nil && e.inst != nil && e.rec.State == api.StateRunning {
		g, _ = e.inst.(session.Guest)
	}
	if g == nil {
		a.mu.Unlock()
		return false
	}
	e.migrating = m.ID
	spec, dir := e.rec.Spec, filepath.Dir(e.rec.QMPSocket)
	a.mu.Unlock()
	var prior *api.HandoffStats
	if m.Handoff != nil {
		prior = &m.Handoff.Destination
	}
	a.dest.ResumePostcopy(spec, m.ID, m.From, prior, g, dir, func(err error) {
		a.mu.Lock()
		if e.migrating == m.ID {
			e.migrating = ""
		}
		a.mu.Unlock()
		switch {
		case err != nil && a.life.Err() != nil:
			return // stopping again: the next run resumes it
		case err != nil:
			m.State, m.Reason = api.MigrationFailed, "post-copy failed after the guest started here; no rollback: "+err.Error()
		default:
			m.State, m.Reason = api.MigrationCompleted, ""
			m.Recoveries++
		}
		m.Handoff = withRestart(m.Handoff, a.cfg.Handoff.Stats(spec), false)
		m.Ended = time.Now().UTC()
		a.recordMigration(m, true)
		if m.State == api.MigrationCompleted {
			a.startReports(m.VM)
		}
		a.log.Info("incoming post-copy left by the previous run ended", "migration", m.ID, "vm", m.VM, "state", m.State, "err", err)
	})
	return true
}

// activeMigrations counts the migrations under way here (both roles).
func (a *Agent) activeMigrations() int {
	a.mu.Lock()
	n := len(a.migs)
	a.mu.Unlock()
	return n + a.dest.Active()
}

// guestInPostcopy reports whether VM name's adopted QEMU is the
// destination of a post-copy.
func (a *Agent) guestInPostcopy(name string) bool {
	a.mu.Lock()
	e := a.vms[name]
	var g session.Guest
	if e != nil && e.inst != nil {
		g, _ = e.inst.(session.Guest)
	}
	a.mu.Unlock()
	if g == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(a.life, 10*time.Second)
	defer cancel()
	return session.InPostcopy(ctx, g)
}

// runningSpec returns the spec of VM name if it is one of this agent's
// running guests.
func (a *Agent) runningSpec(name string) (api.VMSpec, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.vms[name]
	if e == nil || e.inst == nil || e.rec.State != api.StateRunning {
		return api.VMSpec{}, false
	}
	return e.rec.Spec, true
}
