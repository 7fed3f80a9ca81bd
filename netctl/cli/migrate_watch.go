package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

const (
	// migratePoll is how often a running migration is polled.
	migratePoll = 200 * time.Millisecond
	// migrateLineEvery is how often a progress line is printed off a terminal.
	migrateLineEvery = time.Second
	// watchSlack is how long past the completion timeout netctl keeps
	// waiting for the agent to end a migration.
	watchSlack = time.Minute
)

// watcher polls one migration and shows its progress: a line redrawn in
// place on a terminal, else a line every second and on every state change;
// each new policy decision as a line of its own.
type watcher struct {
	g     *globals
	t     *target
	p     *progress
	log   io.Writer
	start time.Time // local clock, for elapsed time before the agent reports it

	lastState string
	lastLine  time.Time
	decisions int
	extra     func() string // appended to progress lines (verify counters); may be nil
}

func newWatcher(g *globals, t *target) *watcher {
	return &watcher{g: g, t: t, p: g.newProgress(), log: g.logw(), start: time.Now()}
}

// logw is where running commentary goes: stdout, or stderr with -o json so
// that stdout holds only the final document.
func (g *globals) logw() io.Writer {
	if g.jsonOut() {
		return g.env.Stderr
	}
	return g.env.Stdout
}

// watch polls m until it ends and returns the last record seen. It returns
// an error when ctx ends (the migration is still running then) or the
// agent cannot be asked for longer than --timeout.
func (w *watcher) watch(ctx context.Context, m api.Migration) (api.Migration, error) {
	defer w.p.clear()
	w.show(m)
	limit := time.Duration(m.Request.CompletionTimeout) + watchSlack
	var failingSince time.Time
	tick := time.NewTicker(migratePoll)
	defer tick.Stop()
	// An unknown outcome is not an end, but nothing more happens until the
	// destination answers the source or an operator resolves it.
	for !api.Ended(m.State) && m.State != api.MigrationUnknown {
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-tick.C:
		}
		got, err := call(ctx, w.g, w.t, func(ctx context.Context) (api.Migration, error) {
			return w.t.client.GetMigration(ctx, m.ID)
		})
		switch {
		case err == nil:
			m, failingSince = got, time.Time{}
			w.show(m)
		case ctx.Err() != nil:
			return m, ctx.Err()
		case errors.Is(err, api.ErrNoMigration):
			return m, fmt.Errorf("migration %s disappeared from %s: %w", m.ID, w.t.name, err)
		case failingSince.IsZero():
			failingSince = time.Now()
		case time.Since(failingSince) > w.g.timeout:
			return m, fmt.Errorf("lost contact with %s while migration %s was %s: %w", w.t.name, m.ID, m.State, err)
		}
		if limit > watchSlack && time.Since(w.start) > limit {
			return m, fmt.Errorf("migration %s still %s after %v, past its completion timeout: see \"netctl --host %s migrations %s\"",
				m.ID, m.State, fmtDuration(time.Since(w.start)), w.t.name, m.ID)
		}
	}
	return m, nil
}

// show prints what is new in m.
func (w *watcher) show(m api.Migration) {
	for _, d := range m.Decisions[min(w.decisions, len(m.Decisions)):] {
		w.p.clear()
		fmt.Fprintf(w.log, "  policy, pass %d: %s\n", d.Pass, fmtDecision(d))
	}
	w.decisions = max(w.decisions, len(m.Decisions))
	changed := m.State != w.lastState
	w.lastState = m.State
	if w.p.on {
		if changed {
			w.p.clear()
			fmt.Fprintf(w.log, "  %s %s\n", w.stamp(m), stateLine(m))
		}
		w.p.update("%s", progressBar(m, w.p.width(), w.extraText()))
		return
	}
	if changed || time.Since(w.lastLine) >= migrateLineEvery {
		w.lastLine = time.Now()
		fmt.Fprintf(w.log, "  %s %s%s\n", w.stamp(m), progressLine(m), w.extraText())
	}
}

func (w *watcher) extraText() string {
	if w.extra == nil {
		return ""
	}
	return w.extra()
}

// stamp is the elapsed time, as the agent counts it when it reports it.
func (w *watcher) stamp(m api.Migration) string {
	d := time.Duration(m.Progress.Elapsed)
	if d == 0 {
		d = time.Since(w.start)
	}
	return fmt.Sprintf("[%6.1fs]", d.Seconds())
}

// stateLine names m's state and, when it is not obvious from the state,
// the phase it is in.
func stateLine(m api.Migration) string {
	s := m.State
	if h := headState(m); h != s {
		s += " (phase " + strings.TrimPrefix(h, s+"/") + ")"
	}
	if m.Reason != "" && api.Ended(m.State) {
		s += ": " + m.Reason
	}
	return s
}

// currentPhase is the name of the last phase that has not ended, or "".
func currentPhase(m api.Migration) string {
	if n := len(m.Phases); n > 0 && m.Phases[n-1].End.IsZero() {
		return m.Phases[n-1].Name
	}
	return ""
}

func fmtDecision(d api.Decision) string {
	s := d.Action
	if d.Value != "" {
		s += " " + d.Value
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}
