package testbed

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The phases the fault tool waits for, read from the source's record.
func TestPhaseReached(t *testing.T) {
	for _, tc := range []struct {
		p    Phase
		m    api.Migration
		want bool
	}{
		{PhasePrecopy, api.Migration{State: api.MigrationActive}, false},
		{PhasePrecopy, api.Migration{State: api.MigrationActive, Progress: api.Progress{Transferred: 1}}, true},
		{PhaseSwitchover, api.Migration{State: api.MigrationActive, Progress: api.Progress{Transferred: 1}}, false},
		{PhaseSwitchover, api.Migration{State: api.MigrationSwitchover}, true},
		{PhasePostcopy, api.Migration{State: api.MigrationPostcopy}, true},
		{PhaseCommitted, api.Migration{State: api.MigrationSwitchover}, false},
		{PhaseCommitted, api.Migration{State: api.MigrationSwitchover, Committed: true}, true},
		{PhaseCommitted, api.Migration{State: api.MigrationCompleted, Committed: true}, false}, // ended: too late
	} {
		if got := tc.p.Reached(tc.m); got != tc.want {
			t.Errorf("%s reached by %s (committed %v, %d B): %v, want %v", tc.p, tc.m.State, tc.m.Committed, tc.m.Progress.Transferred, got, tc.want)
		}
	}
	for _, p := range Phases {
		if got, err := ParsePhase(string(p)); err != nil || got != p {
			t.Errorf("ParsePhase(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParsePhase("blackout"); err == nil {
		t.Error("ParsePhase(blackout): no error")
	}
}
