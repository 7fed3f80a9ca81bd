package session

import (
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Recorder receives a migration's record as it changes. persist is true
// for changes worth storing (state, phases, the end); live progress comes
// with persist false, several times a second.
type Recorder func(m api.Migration, persist bool)

// record is a session's migration record, guarded for the session and its
// helpers, reported through a Recorder.
//
// Reports leave in the order their changes were made: a later snapshot
// stored before an earlier one would be overwritten by it, and a store
// that lost "committed" to a stale write would let a restarted agent
// resume a guest the destination runs. So out runs under outMu, taken
// before mu is released.
type record struct {
	mu    sync.Mutex
	outMu sync.Mutex
	m     api.Migration
	out   Recorder
}

func newRecord(m api.Migration, out Recorder) *record {
	if out == nil {
		out = func(api.Migration, bool) {}
	}
	return &record{m: m, out: out}
}

// update applies fn and reports the result.
func (r *record) update(persist bool, fn func(m *api.Migration)) {
	r.mu.Lock()
	fn(&r.m)
	r.report(persist)
}

// report hands the record to out in change order. Called with mu held;
// releases it.
func (r *record) report(persist bool) {
	m := r.snapshot()
	r.outMu.Lock()
	r.mu.Unlock()
	defer r.outMu.Unlock()
	r.out(m, persist)
}

// commit marks the record committed once store has taken it so; nothing
// else is reported in between, so no earlier snapshot can land on top of
// the stored commit. On error the record stays uncommitted.
func (r *record) commit(store func(api.Migration) error) error {
	r.mu.Lock()
	m := r.snapshot()
	m.Committed = true
	r.outMu.Lock() // after any report under way: it holds an older snapshot
	if err := store(m); err != nil {
		r.outMu.Unlock()
		r.mu.Unlock()
		return err
	}
	r.m.Committed = true
	m = r.snapshot()
	r.mu.Unlock()
	defer r.outMu.Unlock()
	r.out(m, false) // stored above
	return nil
}

// phase ends the open phase (if any) and opens name at t. Phases never
// overlap; a phase already open is left alone.
func (r *record) phase(name string, t time.Time) {
	r.update(true, func(m *api.Migration) {
		if n := len(m.Phases); n > 0 && m.Phases[n-1].End.IsZero() {
			if m.Phases[n-1].Name == name {
				return
			}
			m.Phases[n-1].End = t
		}
		m.Phases = append(m.Phases, api.Phase{Name: name, Start: t})
	})
}

// get returns a copy of the record.
func (r *record) get() api.Migration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot()
}

// finish closes the open phase and sets the final state and reason.
func (r *record) finish(state, reason string) api.Migration {
	now := time.Now().UTC()
	r.update(true, func(m *api.Migration) {
		if n := len(m.Phases); n > 0 && m.Phases[n-1].End.IsZero() {
			m.Phases[n-1].End = now
		}
		m.State, m.Reason, m.Ended = state, reason, now
	})
	return r.get()
}

// snapshot copies m with its slices. Called with mu held.
func (r *record) snapshot() api.Migration {
	m := r.m
	m.Phases = append([]api.Phase(nil), r.m.Phases...)
	m.Decisions = append([]api.Decision(nil), r.m.Decisions...)
	return m
}
