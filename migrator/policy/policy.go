package policy

import (
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Throttle steps when post-copy is never allowed.
const (
	throttleFirst = 20
	throttleStep  = 10
	throttleMax   = 99
	// A throttle step QEMU has not been seen applying after this many
	// passes no longer holds the next step back.
	throttleGrace = 3
)

// Policy follows one migration. It is not safe for concurrent use.
type Policy struct {
	cfg       Config
	bandwidth uint64 // the cap in force
	pass      int    // highest pass seen

	best     uint64 // smallest remaining at a pass boundary (pass >= 2)
	haveBest bool
	stalled  int // consecutive pass boundaries without progress

	postcopy bool // requested, or seen active
	ended    bool // aborted: nothing more to decide
	switched bool // KindSwitchover returned: only the timeout is left
	timedOut bool

	throttle     int // last throttle asked, percent (0: none)
	throttleAsk  int // pass when it was asked
	throttleSeen int // pass when QEMU was first seen applying it (0: not yet)
}

// New starts a policy; zero Config fields take their defaults.
func New(cfg Config) *Policy {
	cfg = cfg.withDefaults()
	return &Policy{cfg: cfg, bandwidth: cfg.InitialBandwidth}
}

// Config is the configuration in force, defaults filled.
func (p *Policy) Config() Config { return p.cfg }

// Bandwidth is the cap in force, bytes/s.
func (p *Policy) Bandwidth() uint64 { return p.bandwidth }

// Observe takes one sample (call it every ~200ms and on every
// MIGRATION_PASS) and returns the actions to apply now, usually none.
// It never returns the same action twice, except a new bandwidth or a new
// throttle step.
func (p *Policy) Observe(s Sample) []Action {
	if p.ended || ended(s.Status) {
		return nil
	}
	if s.PostcopyActive {
		p.postcopy = true
	}
	newPass := s.Pass > p.pass
	if newPass {
		p.pass = s.Pass
	}
	if !p.timedOut && s.Elapsed >= p.cfg.CompletionTimeout {
		p.timedOut = true
		return []Action{p.onTimeout(s)}
	}
	if p.postcopy || p.switched || s.Status != qmpcmd.MigrationActive {
		return nil
	}
	if p.throttle > 0 && p.throttleSeen == 0 && s.ThrottlePct >= p.throttle {
		p.throttleSeen = s.Pass
	}
	if !newPass || s.Pass < 2 {
		return nil
	}
	if p.cfg.Postcopy == api.PostcopyAlways {
		p.postcopy = true
		return []Action{{Kind: KindPostcopy, Reason: fmt.Sprintf(
			"post-copy always: first pass done (pass %d, %s sent, %s remaining)",
			s.Pass, mib(s.Transferred), mib(s.Remaining))}}
	}
	if a := p.switchover(s); a != nil {
		return []Action{*a}
	}
	var out []Action
	raised := p.adaptBandwidth(s)
	if raised != nil {
		out = append(out, *raised)
	}
	p.track(s, raised != nil)
	if raised == nil {
		if why := p.notConverging(s); why != "" {
			if a := p.answer(s, why); a != nil {
				out = append(out, *a)
			}
		}
	}
	return out
}

// switchover (Config.AgentSwitchover) decides, at a pass boundary, to stop
// the guest when what remains would move at the rate measured within what
// the downtime target leaves after the fixed part of the pause: QEMU's own
// rule (migration_iteration_run: pending below bandwidth × limit), less
// what QEMU's rule does not count but the guest's pause does.
func (p *Policy) switchover(s Sample) *Action {
	if !p.cfg.AgentSwitchover {
		return nil
	}
	bw, from := s.Rate, "measured"
	if bw == 0 {
		bw, from = p.bandwidth, "the cap"
	}
	pages := p.pagesBudget()
	fits := float64(bw) * pages.Seconds()
	if float64(s.Remaining) > fits {
		return nil
	}
	p.switched = true
	return &Action{Kind: KindSwitchover, Reason: fmt.Sprintf(
		"pass %d: remaining %s moves in %v at %s (%s), the downtime target %v less %v for the rest of the pause: stopping the guest",
		s.Pass, mib(s.Remaining), pages, rate(bw), from, p.cfg.DowntimeTarget, p.cfg.DowntimeTarget-pages)}
}

// pagesBudget is the part of the downtime target left for the pages that
// remain at the stop: the target less FixedPause, at least a quarter of it
// (a guest would otherwise never be stopped where the fixed part alone
// is over the target; the record then says why the pause ran over).
func (p *Policy) pagesBudget() time.Duration {
	return max(p.cfg.DowntimeTarget-p.cfg.FixedPause, p.cfg.DowntimeTarget/4)
}

// ended reports whether QEMU's migration status is final (or going there).
func ended(status string) bool {
	switch status {
	case qmpcmd.MigrationCompleted, qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled, qmpcmd.MigrationCancelling,
		qmpcmd.MigrationNone:
		return true
	}
	return false
}

// onTimeout decides at the completion timeout.
func (p *Policy) onTimeout(s Sample) Action {
	at := fmt.Sprintf("completion timeout %v reached (elapsed %v, pass %d, %s remaining)",
		p.cfg.CompletionTimeout, s.Elapsed.Round(time.Millisecond), s.Pass, mib(s.Remaining))
	switch {
	case p.postcopy:
		return Action{Kind: KindNote, Reason: at + " in post-copy: nothing can be done, " +
			"the guest already runs on the destination; not aborting (that would lose the guest)"}
	case p.cfg.TimeoutAction == api.TimeoutPostcopy && p.cfg.Postcopy != api.PostcopyNever:
		p.postcopy = true
		return Action{Kind: KindPostcopy, Reason: at + ": forcing post-copy"}
	}
	p.ended = true
	return Action{Kind: KindAbort, Reason: at + ": aborting, the guest keeps running on the source"}
}

// adaptBandwidth raises the cap towards the dirty rate plus the margin.
func (p *Policy) adaptBandwidth(s Sample) *Action {
	want := floatSat(float64(s.DirtyRate) * (1 + p.cfg.Margin))
	capped := want >= p.cfg.MaxBandwidth
	want = min(want, p.cfg.MaxBandwidth)
	if want <= p.bandwidth || float64(want) <= float64(p.bandwidth)*1.05 {
		return nil
	}
	why := fmt.Sprintf("pass %d: dirty %s + %.0f%% margin", s.Pass, rate(s.DirtyRate), p.cfg.Margin*100)
	if capped {
		why += fmt.Sprintf(", capped at the maximum %s", rate(p.cfg.MaxBandwidth))
	}
	why += fmt.Sprintf(": raising the cap from %s to %s", rate(p.bandwidth), rate(want))
	p.bandwidth = want
	return &Action{Kind: KindBandwidth, Bandwidth: want, Reason: why}
}

// track counts pass boundaries where remaining did not shrink by 5% below
// the best so far; a raised cap starts the count again.
func (p *Policy) track(s Sample, raised bool) {
	switch {
	case !p.haveBest || s.Remaining < p.best-p.best/20:
		p.best, p.haveBest, p.stalled = s.Remaining, true, 0
	case raised:
		p.stalled = 0
	default:
		p.stalled++
	}
}
