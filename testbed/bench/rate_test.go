package main

import (
	"slices"
	"testing"
	"time"

	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

func TestRateCandidates(t *testing.T) {
	for asked, want := range map[int][]int{1000: {1000, 750, 500, 250, 100}, 800: {800, 750, 500, 250, 100}, 2000: {2000, 1000, 750, 500, 250, 100}, 100: {100}} {
		if got := rateCandidates(asked); !slices.Equal(got, want) {
			t.Errorf("rateCandidates(%d) = %v, want %v", asked, got, want)
		}
	}
}

// TestBounded checks the definition of a sustained rate on made-up
// probes: a steady guest and a slow first second pass; a loss or a slow
// later second fail.
func TestBounded(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	const rate, secs = 100, 6
	ms := time.Millisecond
	mk := func(rtt func(i int) time.Duration) bool {
		var ss []netverify.Sample
		for i := range rate * secs {
			s := netverify.Sample{Seq: uint32(i), Sent: t0.Add(time.Duration(i) * time.Second / rate), ReflectorSeq: uint32(i), Arrival: i, Copies: 1}
			if d := rtt(i); d >= 0 {
				s.RTT, s.Received = d, s.Sent.Add(d)
			} else {
				s.Copies, s.Arrival = 0, -1
			}
			ss = append(ss, s)
		}
		meds := netverify.SecondMedians(ss, secs*time.Second)
		if len(meds) != secs {
			t.Fatalf("%d medians, want %d", len(meds), secs)
		}
		return bounded(netverify.Analyze(ss, nil, netverify.Limits{MaxLost: 0}), meds)
	}
	for _, c := range []struct {
		name string
		rtt  func(i int) time.Duration
		want bool
	}{
		{"steady", func(int) time.Duration { return ms }, true},
		{"slow first second", func(i int) time.Duration { return map[bool]time.Duration{true: 50 * ms, false: ms}[i < rate] }, true},
		{"slow third second", func(i int) time.Duration { return map[bool]time.Duration{true: 50 * ms, false: ms}[i/rate == 2] }, false},
		{"one lost", func(i int) time.Duration { return map[bool]time.Duration{true: -1, false: ms}[i == 300] }, false},
	} {
		if got := mk(c.rtt); got != c.want {
			t.Errorf("%s: bounded %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFrameBytes(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ss := []netverify.Sample{
		{Sent: at(-10), Received: at(5)},  // reply in the window
		{Sent: at(10), Received: at(11)},  // both
		{Sent: at(20)},                    // lost: the request only
		{Sent: at(95), Received: at(120)}, // request only
		{Sent: at(150), Received: at(151)},
	}
	if got, want := frameBytes(ss, at(0), at(100)), uint64(5*testFrameBytes); got != want {
		t.Errorf("frameBytes = %d, want %d", got, want)
	}
}
