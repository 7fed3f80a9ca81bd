package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// probeRates are the rates maxLosslessRate tries, in order; it stops at
// the first one that loses a packet.
// The steps are fine near the rates a TCG guest manages (1-3 kpps here).
var probeRates = []int{1000, 1250, 1500, 2000, 2500, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000}

// probeFor is how long each rate is sent.
const probeFor = 3 * time.Second

// probe sends TWAMP-light at rate from the client namespace to the guest
// for d (no migration) and analyses the replies.
func probe(ctx context.Context, rate int, d time.Duration) (verify.Report, error) {
	s, err := verify.Start(ctx, verify.Config{
		Target: netip.AddrPortFrom(netip.MustParseAddr(guestIP), twamp.Port),
		Rate:   rate, Netns: "nfh-client",
	}, nil)
	if err != nil {
		return verify.Report{}, err
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return verify.Analyze(s.Stop(), nil, verify.Limits{MaxLost: 0}), ctx.Err()
}

// clean reports whether a probe saw every packet answered once, in order.
func clean(r verify.Report) bool {
	return r.Sent > 0 && r.Lost == 0 && r.Duplicated == 0 && r.Reordered == 0 && r.ReflectorSeqContinuous
}

// maxLosslessRate finds the highest of probeRates at which the guest,
// not migrating, answers every packet; the rate found must pass a second
// probe too (else the next lower one is tried again). It returns the rate
// and a summary of the probes.
func maxLosslessRate(ctx context.Context, t *testing.T) (int, string) {
	t.Helper()
	var log []string
	run := func(what string, rate int) bool {
		r, err := probe(ctx, rate, probeFor)
		if err != nil {
			t.Fatalf("probe at %d pps: %v", rate, err)
		}
		log = append(log, fmt.Sprintf("%s%d pps: sent %d lost %d dup %d reordered %d p99 %v", what, rate, r.Sent, r.Lost, r.Duplicated, r.Reordered, r.LatencyP99))
		return clean(r)
	}
	n := 0 // probeRates[:n] passed
	for n < len(probeRates) && run("", probeRates[n]) {
		n++
	}
	for ; n > 0; n-- {
		if run("again ", probeRates[n-1]) {
			return probeRates[n-1], strings.Join(log, "; ")
		}
	}
	t.Fatalf("the guest loses packets at %d pps without migrating: %s", probeRates[0], strings.Join(log, "; "))
	return 0, ""
}
