package verify

import (
	"math"
	"slices"
	"time"
)

// SecondMedians are the median round trips of each second of a run of
// length d, from its first packet on; a lost packet counts as infinitely
// late. A guest that keeps up with a rate keeps them low and flat; one
// that does not raises every later second's (a load's probes use them).
func SecondMedians(samples []Sample, d time.Duration) []time.Duration {
	if len(samples) == 0 {
		return nil
	}
	var out []time.Duration
	t0 := samples[0].Sent
	for from := t0; from.Before(t0.Add(d)); from = from.Add(time.Second) {
		out = append(out, medianRTT(samples, from, from.Add(time.Second)))
	}
	return out
}

// medianRTT is the median round trip of the samples sent in [from, to); a
// lost sample counts as infinitely late.
func medianRTT(samples []Sample, from, to time.Time) time.Duration {
	var rtts []time.Duration
	for _, s := range samples {
		switch {
		case s.Sent.Before(from) || !s.Sent.Before(to):
		case s.Received.IsZero():
			rtts = append(rtts, time.Duration(math.MaxInt64))
		default:
			rtts = append(rtts, s.RTT)
		}
	}
	if len(rtts) == 0 {
		return 0
	}
	slices.Sort(rtts)
	return rtts[len(rtts)/2]
}
