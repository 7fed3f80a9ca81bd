package main

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
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

func TestRateProbeChosenOnce(t *testing.T) {
	p := &RateProbe{Guest: "ws-256M", Asked: 1000, Rate: 500, Probes: []string{"1000 pps each: a", "750 pps each: b", "500 pps each: c"}}
	// A chosen rate is kept: no probe (which would need the testbed) runs.
	if err := p.choose(context.Background(), slog.New(slog.DiscardHandler), netip.Addr{}, 1000); err != nil || p.Rate != 500 {
		t.Fatalf("choose again: rate %d, %v", p.Rate, err)
	}
	if s := p.String(); !strings.Contains(s, "ws-256M: test traffic 500 pps (asked 1000)") || !strings.Contains(s, "750 pps each: b; 500") {
		t.Errorf("String: %s", s)
	}
}
