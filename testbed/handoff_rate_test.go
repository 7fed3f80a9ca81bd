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
var probeRates = []int{1000, 2000, 4000, 8000, 16000, 32000}

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
// probe too (else the one below is taken). It returns the rate and a
// summary of the probes.
func maxLosslessRate(ctx context.Context, t *testing.T) (int, string) {
	t.Helper()
	var log []string
	best := 0
	for _, rate := range probeRates {
		r, err := probe(ctx, rate, probeFor)
		if err != nil {
			t.Fatalf("probe at %d pps: %v", rate, err)
		}
		log = append(log, fmt.Sprintf("%d pps: sent %d lost %d dup %d reordered %d p99 %v", rate, r.Sent, r.Lost, r.Duplicated, r.Reordered, r.LatencyP99))
		if !clean(r) {
			break
		}
		best = rate
	}
	for best > 0 {
		r, err := probe(ctx, best, probeFor)
		if err != nil {
			t.Fatalf("probe at %d pps: %v", best, err)
		}
		log = append(log, fmt.Sprintf("again %d pps: sent %d lost %d dup %d reordered %d", best, r.Sent, r.Lost, r.Duplicated, r.Reordered))
		if clean(r) {
			break
		}
		best /= 2
		if best < probeRates[0] {
			best = 0
		}
	}
	if best == 0 {
		t.Fatalf("the guest loses packets at %d pps without migrating: %s", probeRates[0], strings.Join(log, "; "))
	}
	return best, strings.Join(log, "; ")
}
