package session

import (
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// pauseClock marks the guest's pause on the source, so the record can say
// where it went (api.PauseParts) and why it ran over the downtime target.
type pauseClock struct {
	stopped    time.Time     // the guest stopped (the agent's stop, or QEMU's STOP)
	switchover time.Time     // QEMU reached pre-switchover
	continued  time.Time     // migrate-continue returned
	done       time.Time     // QEMU completed, or post-copy became active: Commit goes
	held       time.Duration // of the hand-off, by a test's knob (Debug.SwitchoverDelay)
}

// mark sets *t to now unless it is set already or the guest has not
// stopped yet (a mark before the stop belongs to no pause).
func (c *pauseClock) mark(t *time.Time, now time.Time) {
	if t.IsZero() && !c.stopped.IsZero() {
		*t = now
	}
}

// parts splits the pause from the stop to end, when Running arrived;
// run says the destination's own part. A mark not seen counts in the part
// after it.
func (c pauseClock) parts(end time.Time, run wire.Running) api.PauseParts {
	starting := time.Duration(run.Starting)
	marks := []time.Time{c.switchover, c.continued, c.done, end}
	d := make([]time.Duration, len(marks))
	last := c.stopped
	for i, m := range marks {
		if m.IsZero() || m.Before(last) {
			continue
		}
		d[i], last = m.Sub(last), m
	}
	starting = min(max(starting, 0), d[3])
	ready := min(max(time.Duration(run.Ready), 0), starting)
	listening := min(max(time.Duration(run.Listening), 0), ready)
	return api.PauseParts{FinalPass: api.Duration(d[0]), Handoff: api.Duration(d[1]), Completion: api.Duration(d[2]),
		Destination: api.Duration(starting), Messages: api.Duration(d[3] - starting),
		DestinationReady: api.Duration(ready), DestinationListening: api.Duration(listening),
		DebugHeld: api.Duration(min(c.held, d[1]))}
}

// notePause records the pause's parts and, when it ran over the downtime
// target, a decision that says so and which part was the largest.
func (s *source) notePause(paused time.Duration, run wire.Running, pass int) {
	if s.pause.stopped.IsZero() {
		return
	}
	p := s.pause.parts(s.pause.stopped.Add(paused), run)
	s.rec.update(true, func(m *api.Migration) { m.PausedParts = &p })
	target := time.Duration(s.pcfg.DowntimeTarget)
	if paused <= target {
		return
	}
	name, most := "final pass", p.FinalPass
	for _, c := range []struct {
		name string
		d    api.Duration
	}{{"hand-off", p.Handoff}, {"completion", p.Completion}, {"destination", p.Destination}, {"messages", p.Messages}} {
		if c.d > most {
			name, most = c.name, c.d
		}
	}
	d := policy.Action{Kind: policy.KindNote, Reason: fmt.Sprintf(
		"guest paused %v, over the downtime target %v: %s; most in the %s",
		paused.Round(100*time.Microsecond), target, p, name)}.Decision(time.Now().UTC(), pass)
	s.log.Warn("guest paused over the downtime target", "paused", paused, "target", target, "parts", p.String())
	s.rec.update(true, func(m *api.Migration) { m.Decisions = append(m.Decisions, d) })
}
