package session

import "slices"

// sourcePhase is how far a source session has come. It only moves forward,
// through advance, along sourceNext.
type sourcePhase uint8

const (
	// srcSetup: dial, Hello and Ready, capabilities, Handoff.Begin; QEMU
	// is not migrating.
	srcSetup sourcePhase = iota
	// srcMigrating: QEMU's migrate was issued (or was in flight when the
	// session was cancelled): a rollback must cancel it.
	srcMigrating
	// srcSwitchover: QEMU reached pre-switchover: the guest is stopped,
	// the hand-off buffers, migrate-continue was sent.
	srcSwitchover
	// srcCommitted: Commit was sent (QEMU completed, or post-copy started):
	// the source never resumes its guest unless the destination aborts.
	srcCommitted
	// srcRunning: the destination said Running: the hand-off runs.
	srcRunning
)

func (p sourcePhase) String() string {
	switch p {
	case srcSetup:
		return "setup"
	case srcMigrating:
		return "migrating"
	case srcSwitchover:
		return "switchover"
	case srcCommitted:
		return "committed"
	case srcRunning:
		return "running"
	}
	return "sourcePhase(?)"
}

// sourceNext lists the phases each phase may move to: QEMU completes or
// starts post-copy after pre-switchover, but a session that never saw
// pre-switchover (a status it missed) still commits.
var sourceNext = map[sourcePhase][]sourcePhase{
	srcSetup:      {srcMigrating},
	srcMigrating:  {srcSwitchover, srcCommitted},
	srcSwitchover: {srcCommitted},
	srcCommitted:  {srcRunning},
}

// advance moves the session to p and reports whether it did: false when
// the session is at p already or beyond (each transition happens once) or
// p cannot follow the current phase.
func (s *source) advance(p sourcePhase) bool {
	if !s.can(p) {
		return false
	}
	s.log.Debug("source phase", "from", s.phase, "to", p)
	s.phase = p
	return true
}

// can reports whether the session may advance to p now.
func (s *source) can(p sourcePhase) bool {
	return slices.Contains(sourceNext[s.phase], p)
}
