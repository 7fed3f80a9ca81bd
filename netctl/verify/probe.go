package verify

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The bounds that define a load a guest sustains (Probe). A guest that
// keeps up answers in about a millisecond under TCG; one that does not
// queues the excess in its socket buffer (seconds of traffic) and in the
// tap, so loss comes late and latency first. Medians per second, not a p99
// over the probe: a busy machine stalls a guest now and then for tens of
// milliseconds (seen: p99 69 ms at 1250 pps with the medians at 0.9 and
// 1.8 ms), a queue that then drains; a rate the guest cannot sustain
// raises the median of every later second.
const (
	// ProbeMaxMedian bounds the median round trip of every second of a
	// probe but the first (the guest's warm-up, or the end of an earlier
	// probe's queue): ~20× a TCG guest's median well below its limit.
	ProbeMaxMedian = 20 * time.Millisecond
	// ProbeMaxGrowth bounds how much the last second's median may exceed
	// the second's: a queue growing by 5 ms over 4 s is an overload of
	// about 0.1%, which a bound on the latency alone would see only after
	// minutes.
	ProbeMaxGrowth = 5 * time.Millisecond
)

// Probe is the outcome of steady test traffic to a guest that is not
// moving: the report and the median round trip of each second (a lost
// packet counts as infinitely late).
type Probe struct {
	Rate    int
	Report  Report
	Medians []time.Duration
}

// NewProbe analyses the samples of a probe at rate that ran for d.
func NewProbe(samples []Sample, rate int, d time.Duration) Probe {
	return Probe{Rate: rate, Report: Analyze(samples, nil, Limits{MaxLost: 0}), Medians: SecondMedians(samples, d)}
}

// Bounded reports whether every packet was answered once and in order and
// the median round trip of every second but the first was at most
// ProbeMaxMedian: bounded latency, without Sustained's growth test, which
// the noise of several guests sharing two cores trips at rates they keep
// up with (medians of 3-12 ms at 250 pps each, four guests).
func (p Probe) Bounded() bool {
	r, m := p.Report, p.Medians
	if r.Sent == 0 || r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || !r.ReflectorSeqContinuous || len(m) < 3 {
		return false
	}
	return slices.Max(m[1:]) <= ProbeMaxMedian
}

// Sustained reports whether the guest kept up with the probe: bounded, and
// its queue did not grow (the last second's median at most ProbeMaxGrowth
// above the second's).
func (p Probe) Sustained() bool {
	m := p.Medians
	return p.Bounded() && m[len(m)-1] <= m[1]+ProbeMaxGrowth
}

// WorstMedian is the highest median round trip after the first second.
func (p Probe) WorstMedian() time.Duration {
	if len(p.Medians) < 2 {
		return 0
	}
	return slices.Max(p.Medians[1:])
}

func (p Probe) String() string {
	ms := make([]string, len(p.Medians))
	for i, m := range p.Medians {
		ms[i] = m.Round(10 * time.Microsecond).String()
	}
	return fmt.Sprintf("%d pps: sent %d lost %d dup %d reordered %d p99 %v medians [%s]",
		p.Rate, p.Report.Sent, p.Report.Lost, p.Report.Duplicated, p.Report.Reordered, time.Duration(p.Report.LatencyP99), strings.Join(ms, " "))
}
