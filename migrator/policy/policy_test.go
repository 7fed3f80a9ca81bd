package policy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

const mi = 1 << 20

// at builds an active sample at a pass boundary.
func at(pass int, elapsed time.Duration, remaining, dirty, rate uint64) Sample {
	return Sample{Status: "active", Pass: pass, Elapsed: elapsed, Total: 1 << 30,
		Remaining: remaining * mi, DirtyRate: dirty * mi, Rate: rate * mi}
}

// ws is s with a working set of mib MiB reported.
func ws(s Sample, mib uint64) Sample { s.WorkingSet = mib * mi; return s }

// run feeds samples and returns "kind[:value]" per action, and the actions.
func run(p *Policy, samples []Sample) ([]string, []Action) {
	var got []string
	var all []Action
	for _, s := range samples {
		for _, a := range p.Observe(s) {
			v := a.Kind
			switch a.Kind {
			case KindBandwidth:
				v += fmt.Sprintf(":%d", a.Bandwidth/mi)
			case KindThrottle:
				v += fmt.Sprintf(":%d", a.Throttle)
			}
			got = append(got, v)
			all = append(all, a)
		}
	}
	return got, all
}

func TestObserve(t *testing.T) {
	sec := time.Second
	never := Config{Postcopy: api.PostcopyNever, MaxBandwidth: 128 * mi}
	throttled := func(s Sample, pct int) Sample { s.ThrottlePct = pct; return s }
	inPostcopy := func(s Sample) Sample { s.Status, s.PostcopyActive = "postcopy-active", true; return s }
	tests := []struct {
		name    string
		cfg     Config
		samples []Sample
		want    []string
		reason  string // a substring of the last action's reason
	}{
		{"idle guest converges", Config{}, []Sample{
			at(1, 1*sec, 200, 0, 60), at(1, 2*sec, 140, 0, 60), at(2, 4*sec, 1, 0, 60),
			at(3, 4*sec, 0, 0, 60), {Status: "completed", Pass: 3, Elapsed: 5 * sec},
		}, nil, ""},
		{"bandwidth ramps with the dirty rate", Config{}, []Sample{
			at(1, 4*sec, 100, 0, 60), at(2, 5*sec, 300, 80, 60), at(2, 6*sec, 200, 80, 100),
			at(3, 7*sec, 150, 82, 100), at(4, 8*sec, 100, 120, 100), at(5, 9*sec, 60, 120, 150),
			at(6, 10*sec, 20, 122, 150),
		}, []string{"bandwidth:100", "bandwidth:150"}, "from 100.0 MiB/s to 150.0 MiB/s"},
		{"faster than the cap, auto: post-copy", Config{MaxBandwidth: 128 * mi}, []Sample{
			at(1, 8*sec, 100, 0, 60), at(2, 10*sec, 500, 200, 60), at(3, 12*sec, 510, 200, 128),
			at(4, 14*sec, 520, 200, 128), at(5, 16*sec, 520, 200, 128),
		}, []string{"bandwidth:128", "postcopy"}, "at or above the maximum bandwidth"},
		{"faster than the cap, never: throttle steps", never, []Sample{
			at(1, 8*sec, 100, 0, 60), at(2, 10*sec, 500, 200, 60), at(3, 12*sec, 510, 200, 128),
			at(4, 14*sec, 520, 200, 128), // QEMU has not applied it yet: no new step
			throttled(at(5, 16*sec, 520, 190, 128), 20), throttled(at(6, 18*sec, 520, 170, 128), 20),
			throttled(at(7, 20*sec, 520, 150, 128), 30), throttled(at(8, 22*sec, 520, 130, 128), 30),
			throttled(at(9, 24*sec, 300, 100, 128), 40), throttled(at(10, 25*sec, 100, 60, 128), 40),
		}, []string{"bandwidth:128", "throttle:20", "throttle:30", "throttle:40"}, "throttling the guest CPU to 40%"},
		{"never: a step QEMU does not apply is repeated after a grace", never, []Sample{
			at(2, 10*sec, 500, 200, 60), at(3, 12*sec, 510, 200, 128), at(4, 14*sec, 510, 200, 128),
			at(5, 16*sec, 510, 200, 128), at(6, 18*sec, 510, 200, 128),
		}, []string{"bandwidth:128", "throttle:20", "throttle:30"}, "(now 0%)"},
		{"remaining stalls below the cap", Config{}, []Sample{
			at(1, 8*sec, 100, 0, 60), at(2, 10*sec, 120, 50, 55), // 62.5 MiB/s: under the initial cap
			at(3, 11*sec, 120, 50, 55), at(4, 12*sec, 119, 50, 55), at(5, 13*sec, 121, 50, 55),
			at(6, 14*sec, 118, 50, 55), at(7, 15*sec, 120, 50, 55),
		}, []string{"postcopy"}, "remaining 118.0 MiB not shrinking over 4 passes"},
		// With a working set that goes first, one pass without progress is
		// enough, when what remains is about that working set.
		{"remaining stalls, a working set reported: post-copy after one pass", Config{}, []Sample{
			at(1, 8*sec, 100, 0, 60), ws(at(2, 10*sec, 120, 50, 55), 64), ws(at(3, 11*sec, 119, 50, 55), 64),
		}, []string{"postcopy"}, "within 2× the 64.0 MiB working set the guest reports"},
		{"remaining stalls, far above the reported working set: the usual passes", Config{}, []Sample{
			at(1, 8*sec, 100, 0, 60), ws(at(2, 10*sec, 120, 50, 55), 16), ws(at(3, 11*sec, 120, 50, 55), 16),
			ws(at(4, 12*sec, 119, 50, 55), 16), ws(at(5, 13*sec, 121, 50, 55), 16), ws(at(6, 14*sec, 118, 50, 55), 16),
			ws(at(7, 15*sec, 120, 50, 55), 16),
		}, []string{"postcopy"}, "not shrinking over 4 passes"},
		{"projected over the limit", Config{CompletionTimeout: 100 * sec}, []Sample{
			at(1, 30*sec, 100, 0, 60), at(2, 40*sec, 500, 9, 10),
		}, []string{"postcopy"}, "projected total 9m0s over the limit 1m15s"},
		// An idle guest on a busy host: one pass measured 1 MiB/s against
		// 2 MiB/s dirty, but the 3 MiB left would fit the 50 ms target at
		// the 64 MiB/s cap: no verdict from that sample; the next pass
		// measures QEMU's rate again.
		{"a noisy rate sample with little left", Config{CompletionTimeout: 100 * sec}, []Sample{
			at(1, 30*sec, 100, 0, 60), at(2, 40*sec, 3, 2, 1), at(3, 41*sec, 1, 1, 60),
		}, nil, ""},
		{"always: post-copy after the first pass", Config{Postcopy: api.PostcopyAlways}, []Sample{
			at(1, 1*sec, 100, 0, 60), at(1, 2*sec, 50, 0, 60), at(2, 3*sec, 10, 300, 60),
			at(3, 4*sec, 10, 300, 60), inPostcopy(at(3, 5*sec, 5, 300, 60)),
		}, []string{"postcopy"}, "first pass done (pass 2"},
		{"timeout abort", Config{CompletionTimeout: 20 * sec}, []Sample{
			at(1, 10*sec, 100, 0, 60), at(1, 20*sec, 90, 0, 60), at(2, 21*sec, 80, 0, 60),
			at(3, 22*sec, 80, 0, 60),
		}, []string{"abort"}, "completion timeout 20s reached (elapsed 20s, pass 1, 90.0 MiB remaining): aborting"},
		{"timeout post-copy", Config{CompletionTimeout: 20 * sec, TimeoutAction: api.TimeoutPostcopy}, []Sample{
			at(1, 10*sec, 100, 0, 60), at(1, 21*sec, 90, 0, 60), at(2, 22*sec, 80, 0, 60),
			inPostcopy(at(2, 23*sec, 80, 0, 60)),
		}, []string{"postcopy"}, "forcing post-copy"},
		{"agent switchover: at the first pass where the rest fits the target", Config{AgentSwitchover: true, FixedPause: 10 * time.Millisecond}, []Sample{
			at(1, 1*sec, 100, 0, 60), at(1, 2*sec, 2, 0, 60), // pass 1's tail: not a boundary
			at(2, 3*sec, 3, 1, 60), // 3 MiB > 60 MiB/s × (50-10)ms = 2.4 MiB
			at(3, 4*sec, 2, 1, 60), // 2 MiB <= 2.4 MiB: stop
			at(4, 5*sec, 1, 0, 60), {Status: "completed", Pass: 4, Elapsed: 6 * sec},
		}, []string{"switchover"}, "remaining 2.0 MiB moves in 40ms at 60.0 MiB/s (measured), the downtime target 50ms less 10ms for the rest of the pause"},
		{"agent switchover: a fixed part over the target leaves the pages a quarter", Config{AgentSwitchover: true, FixedPause: time.Second}, []Sample{
			at(2, 3*sec, 2, 1, 100), // 2 MiB > 100 MiB/s × 12.5ms = 1.25 MiB
			at(3, 4*sec, 1, 1, 100),
		}, []string{"switchover"}, "remaining 1.0 MiB moves in 12.5ms"},
		{"agent switchover: no rate measured uses the cap", Config{AgentSwitchover: true, InitialBandwidth: 40 * mi}, []Sample{
			at(2, 3*sec, 1, 0, 0),
		}, []string{"switchover"}, "at 40.0 MiB/s (the cap)"},
		{"agent switchover: the timeout still aborts after it", Config{AgentSwitchover: true, CompletionTimeout: 20 * sec}, []Sample{
			at(2, 3*sec, 1, 0, 60), at(3, 21*sec, 1, 0, 60),
		}, []string{"switchover", "abort"}, "aborting"},
		{"timeout already in post-copy", Config{CompletionTimeout: 20 * sec}, []Sample{
			at(1, 10*sec, 100, 0, 60), inPostcopy(at(1, 15*sec, 90, 0, 60)),
			inPostcopy(at(1, 21*sec, 50, 0, 60)), inPostcopy(at(1, 30*sec, 10, 0, 60)),
		}, []string{"note"}, "nothing can be done"},
	}
	digits := regexp.MustCompile(`[0-9]`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.cfg)
			got, acts := run(p, tt.samples)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("actions %q, want %q", got, tt.want)
			}
			seen := map[string]bool{}
			var bw uint64
			for i, a := range acts {
				if !digits.MatchString(a.Reason) {
					t.Errorf("action %s: reason %q has no numbers", a.Kind, a.Reason)
				}
				if seen[got[i]] {
					t.Errorf("action %s emitted twice", got[i])
				}
				seen[got[i]] = true
				if a.Kind == KindBandwidth && (a.Bandwidth <= bw || a.Bandwidth > p.Config().MaxBandwidth) {
					t.Errorf("bandwidth %d after %d, max %d", a.Bandwidth, bw, p.Config().MaxBandwidth)
				}
				if a.Kind == KindBandwidth {
					bw = a.Bandwidth
				}
			}
			if tt.reason != "" && !strings.Contains(acts[len(acts)-1].Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", acts[len(acts)-1].Reason, tt.reason)
			}
		})
	}
}

func TestObserveNeverAbortsInPostcopy(t *testing.T) {
	for _, action := range []string{api.TimeoutAbort, api.TimeoutPostcopy} {
		p := New(Config{CompletionTimeout: time.Second, TimeoutAction: action})
		acts := p.Observe(Sample{Status: "postcopy-active", PostcopyActive: true, Pass: 3, Elapsed: 2 * time.Second})
		if len(acts) != 1 || acts[0].Kind != KindNote {
			t.Errorf("%s: %+v, want one note", action, acts)
		}
	}
}
