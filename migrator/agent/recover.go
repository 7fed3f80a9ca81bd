package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/session"
)

// recoverWait bounds the roll-back of an outgoing migration a previous run
// left: QEMU's cancel (up to 30 s) and the buffered frames going back.
const recoverWait = 2 * time.Minute

// unfinishedOutgoing returns the stored source records that a previous run
// left unfinished, by VM (a VM takes part in one migration at a time).
func (a *Agent) unfinishedOutgoing() (map[string]api.Migration, error) {
	raws, err := a.cfg.Store.ListMigrations()
	if err != nil {
		return nil, fmt.Errorf("reading stored migrations: %w", err)
	}
	out := map[string]api.Migration{}
	for _, r := range raws {
		var m api.Migration
		if json.Unmarshal(r.Data, &m) != nil || api.Ended(m.State) || m.Role != "source" {
			continue
		}
		if old, ok := out[m.VM]; !ok || m.Started.After(old.Started) {
			out[m.VM] = m
		}
	}
	return out, nil
}

// recoverOutgoing settles outgoing migration m of a guest just re-adopted:
// its agent died during it. The guest may be paused (that agent stopped it
// for the switchover) and its dataplane entry left mirroring or buffering.
//
// Before the commit the destination never runs the guest, so the migration
// is rolled back here: QEMU's migration cancelled, the guest resumed, the
// dataplane back to PASS (the frames the dead agent held are lost and
// counted as dropped; those captured since go back into the tap). The
// destination, without its source, aborts on its own.
//
// After the commit the destination may run the guest: nothing is resumed
// here until the destination, asked, says it does not (settle).
func (a *Agent) recoverOutgoing(ctx context.Context, e *entry, inst Instance, m api.Migration) {
	log := a.log.With("vm", m.VM, "migration", m.ID)
	if m.Committed {
		if m.State != api.MigrationUnknown {
			m.Reason = fmt.Sprintf("outcome unknown: the agent restarted after committing the move to %s", m.To)
		}
		log.Warn("agent restarted after the commit: asking the destination")
		a.goSettle(e, inst, m)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, recoverWait)
	defer cancel()
	reason := ReasonAgentRestarted + "; rolled back: the guest runs here"
	if err := a.rollBackHere(ctx, e, inst, &m); err != nil {
		reason = ReasonAgentRestarted + "; rolling back: " + err.Error()
		log.Error("resuming a guest the previous run left in a migration", "err", err)
	}
	log.Warn("agent restarted during the migration: rolled back before the commit")
	m.State, m.Reason, m.Ended = api.MigrationFailed, reason, time.Now().UTC()
	a.recordMigration(m, true)
	a.startReports(m.VM)
}

// rollBackHere resumes outgoing migration m's guest here (QEMU's migration
// cancelled first) and rolls its hand-off back (the buffered frames go
// back into the tap), adding what this run did to m's account. Only for a
// migration whose destination never ran the guest and never will.
func (a *Agent) rollBackHere(ctx context.Context, e *entry, inst Instance, m *api.Migration) error {
	var err error
	if g, ok := inst.(session.Guest); ok {
		err = session.ResumeHere(ctx, g, a.log.With("vm", m.VM, "migration", m.ID))
	}
	if rerr := a.cfg.Handoff.Rollback(ctx, e.rec.Spec); rerr != nil {
		a.log.Warn("rolling back the hand-off", "vm", m.VM, "migration", m.ID, "err", rerr)
	}
	m.Handoff = withRestart(m.Handoff, a.cfg.Handoff.Stats(e.rec.Spec), true)
	return err
}

// withRestart adds to the account the previous run stored what this run
// did with the migration's frames: those it returned to the source tap or
// released into the destination tap, and those it counted as dropped
// ("restart": held by the dead run). source says which end's account.
func withRestart(stored *api.HandoffReport, now api.HandoffStats, source bool) *api.HandoffReport {
	var r api.HandoffReport
	if stored != nil {
		r = *stored
	}
	s := &r.Destination
	if source {
		s = &r.Source
	}
	s.Returned += now.Returned
	s.Released += now.Released
	s.GuardTripped += now.GuardTripped
	s.RollbackFlooded += now.RollbackFlooded // beside its rollback_dest drops
	if now.ReplayRate > 0 {
		s.ReplayRate = now.ReplayRate
	}
	for why, n := range now.Dropped {
		if s.Dropped == nil {
			s.Dropped = map[string]uint64{}
		}
		s.Dropped[why] += n
	}
	return &r
}

// settleArrival ends incoming migration m whose guest was handed over here
// before the agent died: it completed (the source, asking, ends its copy
// and sends its flush). The dataplane still holds the guest's traffic as
// the dead run left it: the destination server injects the source's flush
// and releases the hold after it, in order (session.Server.Arrived); the
// record gets the hand-off's account then.
func (a *Agent) settleArrival(spec api.VMSpec, m api.Migration) {
	m.State, m.Reason, m.Ended = api.MigrationCompleted, ReasonRestartedAfterArrival, time.Now().UTC()
	a.recordMigration(m, true)
	a.log.Warn("unfinished incoming migration completed: its guest runs here; waiting for the source's flush", "migration", m.ID, "vm", m.VM)
	a.dest.Arrived(spec, m.ID, func(st api.HandoffStats) {
		m.Handoff = withRestart(m.Handoff, st, false)
		a.recordMigration(m, true)
	})
}
