package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// workingSetCover: with a working set to send first, a remaining dirty
// set up to this many times its size counts as the working set being
// rewritten (a guest dirties more than its hot pages: stacks, the page
// cache), more than that as something prefetch would not cover.
const workingSetCover = 2

// notConverging says why pre-copy is not converging at this pass
// boundary, or "".
func (p *Policy) notConverging(s Sample) string {
	flow := fmt.Sprintf("dirty %s, rate %s", rate(s.DirtyRate), rate(s.Rate))
	if p.stalled >= p.cfg.StallPasses {
		return fmt.Sprintf("remaining %s not shrinking over %d passes (best %s; %s)",
			mib(s.Remaining), p.stalled, mib(p.best), flow)
	}
	if p.stalled >= 1 && s.WorkingSet > 0 && s.Remaining <= workingSetCover*s.WorkingSet {
		// What pre-copy keeps resending is about what the guest says it
		// uses, and that goes first after the switch: another pass would
		// only send it again.
		return fmt.Sprintf("remaining %s not shrinking over a pass (best %s; %s), within %d× the %s working set the guest reports, which goes first after the switch",
			mib(s.Remaining), mib(p.best), flow, workingSetCover, mib(s.WorkingSet))
	}
	if p.bandwidth >= p.cfg.MaxBandwidth && s.DirtyRate >= p.cfg.MaxBandwidth {
		return fmt.Sprintf("dirty %s at or above the maximum bandwidth %s",
			rate(s.DirtyRate), rate(p.cfg.MaxBandwidth))
	}
	if s.Rate == 0 {
		return "" // no rate measured yet
	}
	if float64(s.Remaining) <= float64(p.bandwidth)*p.cfg.DowntimeTarget.Seconds() {
		// What remains would fit the target at the cap: a rate sample
		// from a pass where QEMU sent little (an idle guest, a busy
		// host) must not send it to post-copy.
		return ""
	}
	net := math.Max(float64(s.Rate)-float64(s.DirtyRate), 1) // bytes/s
	left := float64(s.Remaining) / net                       // seconds
	total := s.Elapsed.Seconds() + left
	if total > p.cfg.MaxProjected.Seconds() {
		return fmt.Sprintf("projected total %s over the limit %v (elapsed %v, remaining %s; %s)",
			seconds(total), p.cfg.MaxProjected, s.Elapsed.Round(time.Millisecond), mib(s.Remaining), flow)
	}
	return ""
}

// seconds formats a projected time, which may be huge.
func seconds(f float64) string {
	if f > 1e6 {
		return "unbounded"
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond).String()
}

// answer acts on non-convergence: post-copy when allowed, else the next
// throttle step once QEMU applies the last one (or failed to for a while).
func (p *Policy) answer(s Sample, why string) *Action {
	if p.cfg.Postcopy != api.PostcopyNever {
		p.postcopy = true
		return &Action{Kind: KindPostcopy, Reason: "not converging: " + why + "; switching to post-copy"}
	}
	next := throttleFirst
	if p.throttle > 0 {
		applied := p.throttleSeen > 0 && s.Pass > p.throttleSeen
		if p.throttle >= throttleMax || !(applied || s.Pass >= p.throttleAsk+throttleGrace) {
			return nil
		}
		next = min(p.throttle+throttleStep, throttleMax)
	}
	p.throttle, p.throttleAsk, p.throttleSeen = next, s.Pass, 0
	return &Action{Kind: KindThrottle, Throttle: next, Reason: fmt.Sprintf(
		"not converging: %s; throttling the guest CPU to %d%% (now %d%%)", why, next, s.ThrottlePct)}
}
