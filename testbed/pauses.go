package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// PauseLogEnv names the file (JSON lines, appended to) where the
// integration tests record every completed move's pause against its
// target, for `make test-integration`'s tally (testbed/pauses): issue 9
// asks the pause to keep the target in at least 95% of the moves.
const PauseLogEnv = "NFH_PAUSE_LOG"

// PauseEntry is one completed move as its source agent recorded it.
type PauseEntry struct {
	Test     string       `json:"test"`
	ID       string       `json:"id"`
	VM       string       `json:"vm"`
	Postcopy bool         `json:"postcopy"`
	Paused   api.Duration `json:"paused"`
	Target   api.Duration `json:"target"`
	Parts    string       `json:"parts,omitempty"` // where the pause went
	// Held is how long a test's knob (--debug-switchover-delay) held the
	// guest stopped: such a move is not the agent's choice, and the
	// tally lists it apart.
	Held api.Duration `json:"held,omitempty"`
}

// RecordPauses appends to path the completed moves whose source is an
// agent of the testbed still answering (an agent a test killed is
// skipped). It reads the records with netctl, as an operator would.
func (e Env) RecordPauses(ctx context.Context, test, path string) error {
	socks, err := filepath.Glob(filepath.Join(e.RunDir, "*", "api.sock"))
	if err != nil {
		return err
	}
	var entries []PauseEntry
	var errs []error
	for _, s := range socks {
		host := filepath.Base(filepath.Dir(s))
		out, _, err := e.Netctl(ctx, "--host", host, "migrations", "-o", "json")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var ms []api.Migration
		if err := json.Unmarshal([]byte(out), &ms); err != nil {
			errs = append(errs, fmt.Errorf("%s's migrations: %w", host, err))
			continue
		}
		for _, m := range ms {
			if m.Role != "source" || m.State != api.MigrationCompleted || m.Paused == 0 {
				continue
			}
			pe := PauseEntry{Test: test, ID: m.ID, VM: m.VM, Postcopy: m.Postcopy, Paused: m.Paused,
				Target: m.Request.DowntimeTarget}
			if m.PausedParts != nil {
				pe.Parts, pe.Held = m.PausedParts.String(), m.PausedParts.DebugHeld
			} else if d := overNote(m.Decisions); d != "" {
				pe.Parts = d // an engine's move: its record says why, not in parts
			}
			entries = append(entries, pe)
		}
	}
	if len(entries) == 0 {
		return errors.Join(errs...)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, pe := range entries {
		if err := enc.Encode(pe); err != nil {
			errs = append(errs, err)
			break
		}
	}
	errs = append(errs, w.Flush(), f.Close())
	return errors.Join(errs...)
}

// overNote is the record's note on a pause over the target, or "".
func overNote(ds []api.Decision) string {
	for i := len(ds) - 1; i >= 0; i-- {
		if strings.HasPrefix(ds[i].Reason, "guest paused ") {
			return ds[i].Reason
		}
	}
	return ""
}
