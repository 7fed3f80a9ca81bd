package session

import (
	"log/slog"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

func TestSourcePhaseAdvance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []sourcePhase
		want  []bool
		end   sourcePhase
	}{
		{"pre-copy", []sourcePhase{srcMigrating, srcSwitchover, srcCommitted, srcRunning},
			[]bool{true, true, true, true}, srcRunning},
		{"commit without a pre-switchover seen", []sourcePhase{srcMigrating, srcCommitted},
			[]bool{true, true}, srcCommitted},
		{"each transition once", []sourcePhase{srcMigrating, srcMigrating, srcSwitchover, srcSwitchover},
			[]bool{true, false, true, false}, srcSwitchover},
		{"never back", []sourcePhase{srcMigrating, srcSwitchover, srcCommitted, srcSwitchover, srcMigrating},
			[]bool{true, true, true, false, false}, srcCommitted},
		{"running needs commit", []sourcePhase{srcRunning, srcMigrating, srcSwitchover, srcRunning},
			[]bool{false, true, true, false}, srcSwitchover},
		{"nothing skips migrating", []sourcePhase{srcSwitchover, srcCommitted}, []bool{false, false}, srcSetup},
	} {
		s := &source{log: slog.New(slog.DiscardHandler)}
		for i, p := range tc.steps {
			if got := s.advance(p); got != tc.want[i] {
				t.Errorf("%s: step %d to %v: %v, want %v", tc.name, i, p, got, tc.want[i])
			}
		}
		if s.phase != tc.end {
			t.Errorf("%s: ends %v, want %v", tc.name, s.phase, tc.end)
		}
	}
}

func TestDestPhaseEnter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		steps  []destPhase
		want   []bool
		status string
	}{
		{"runs", []destPhase{destAdmitted, destPrepared, destCommitted, destRunning},
			[]bool{true, true, true, true}, wire.StatusRunning},
		{"refused", []destPhase{destFailed}, []bool{true}, wire.StatusFailed},
		{"fails after commit", []destPhase{destAdmitted, destPrepared, destCommitted, destFailed},
			[]bool{true, true, true, true}, wire.StatusFailed},
		{"running never fails", []destPhase{destAdmitted, destPrepared, destCommitted, destRunning, destFailed},
			[]bool{true, true, true, true, false}, wire.StatusRunning},
		{"failed stays failed", []destPhase{destAdmitted, destFailed, destPrepared, destRunning},
			[]bool{true, true, false, false}, wire.StatusFailed},
		{"no skipping", []destPhase{destAdmitted, destCommitted, destRunning}, []bool{true, false, false}, wire.StatusPending},
		{"under way", []destPhase{destAdmitted, destPrepared}, []bool{true, true}, wire.StatusPending},
	} {
		d := &dest{log: slog.New(slog.DiscardHandler)}
		for i, p := range tc.steps {
			if got := d.enter(p, "why"); got != tc.want[i] {
				t.Errorf("%s: step %d to %v: %v, want %v", tc.name, i, p, got, tc.want[i])
			}
		}
		if p, _ := d.state(); p.status() != tc.status {
			t.Errorf("%s: ends %v, status %q, want %q", tc.name, p, p.status(), tc.status)
		}
	}
}

func TestPhaseStrings(t *testing.T) {
	for p := srcSetup; p <= srcRunning; p++ {
		if s := p.String(); s == "" || s == "sourcePhase(?)" {
			t.Errorf("source phase %d: %q", p, s)
		}
	}
	for p := destHello; p <= destFailed; p++ {
		if s := p.String(); s == "" || s == "destPhase(?)" {
			t.Errorf("destination phase %d: %q", p, s)
		}
	}
}
