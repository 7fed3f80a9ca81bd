package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

// A gang's test traffic: each guest gets --traffic-rate if the machine's
// TCG guests, all booted and none moving, answer that much at once with
// bounded latency (the integration tests' definition: verify.Probe.Bounded);
// otherwise the highest of gangRates below it that they do. A rate they
// answer only with a growing queue is the edge of collapse, not a load
// to move them under.
var gangRates = []int{1000, 750, 500, 250, 100}

// probeFor is how long each rate is probed.
const probeFor = 6 * time.Second

// chooseRate sets the test traffic's rate, once: the highest of
// rateCandidates(asked) that the guests, booted and not moving, answer all
// at once with bounded latency.
func (res *GangResults) chooseRate(ctx context.Context, log *slog.Logger, specs []api.VMSpec, asked int) error {
	if asked <= 0 || res.Rate > 0 {
		return nil
	}
	ips := make([]netip.Addr, len(specs))
	for i, s := range specs {
		ips[i] = specIP(s)
	}
	rate, probes, err := sustainedRate(ctx, ips, asked)
	res.AskedRate, res.Rate, res.Probes = asked, rate, probes
	log.Info("gang test traffic", "asked_pps", asked, "rate_pps", rate, "probes", probes)
	return err
}

// rateCandidates are the rates to probe, highest first: asked, then the
// gangRates below it.
func rateCandidates(asked int) []int {
	out := []int{asked}
	for _, r := range gangRates {
		if r < asked {
			out = append(out, r)
		}
	}
	return out
}

// sustainedRate probes rateCandidates(asked) in turn, all guests at once,
// and returns the first that every guest answers with bounded latency,
// and one line per probe.
func sustainedRate(ctx context.Context, ips []netip.Addr, asked int) (int, []string, error) {
	var lines []string
	for _, rate := range rateCandidates(asked) {
		ok, line, err := probeAll(ctx, ips, rate)
		lines = append(lines, line)
		if err != nil {
			return 0, lines, err
		}
		if ok {
			return rate, lines, nil
		}
	}
	return 0, lines, fmt.Errorf("%d guests do not answer even %d pps each at once with bounded latency: %s",
		len(ips), gangRates[len(gangRates)-1], strings.Join(lines, "; "))
}

// probeAll sends rate packets/s to every guest at once for probeFor and
// says whether each answered with bounded latency.
func probeAll(ctx context.Context, ips []netip.Addr, rate int) (bool, string, error) {
	var trs []*traffic
	defer func() { stopAll(trs) }()
	for _, ip := range ips {
		tr, err := startTraffic(ctx, clientNS, ip, rate)
		if err != nil {
			return false, "", err
		}
		trs = append(trs, tr)
	}
	c0, err := readMachineCPU()
	if err != nil {
		return false, "", err
	}
	sleep(ctx, probeFor)
	c1, err := readMachineCPU()
	if err != nil {
		return false, "", err
	}
	stopAll(trs)
	ok := true
	var each []string
	for i, tr := range trs {
		p := netverify.NewProbe(tr.s.Stop(), rate, probeFor)
		b := p.Bounded()
		ok = ok && b
		each = append(each, fmt.Sprintf("%s sent %d lost %d dup %d reord %d, worst median %v (bounded %v)",
			ips[i], p.Report.Sent, p.Report.Lost, p.Report.Duplicated, p.Report.Reordered, p.WorstMedian().Round(10*time.Microsecond), b))
	}
	m := c1.since(c0)
	return ok, fmt.Sprintf("%d pps each: %s; the machine's processors meanwhile %.1f s busy, %.1f s idle, %.1f s stolen",
		rate, strings.Join(each, ", "), m.Busy.Seconds(), m.Idle.Seconds(), m.Steal.Seconds()), ctx.Err()
}

// RateProbe is the test traffic's rate for a guest moved alone that asks
// for one (Guest.ProbeRate): the highest of rateCandidates(--traffic-rate)
// it answers, booted and not moving, with bounded latency; probed once,
// on the guest the first family of methods boots, and kept for every
// method.
type RateProbe struct {
	Guest  string   `json:"guest"`
	Asked  int      `json:"asked_pps"`
	Rate   int      `json:"rate_pps"`
	Probes []string `json:"probes"`
}

// choose probes the guest at ip unless a rate was chosen already.
func (p *RateProbe) choose(ctx context.Context, log *slog.Logger, ip netip.Addr, asked int) error {
	if p.Rate > 0 || asked <= 0 {
		return nil
	}
	rate, probes, err := sustainedRate(ctx, []netip.Addr{ip}, asked)
	p.Asked, p.Rate, p.Probes = asked, rate, probes
	log.Info("test traffic", "guest", p.Guest, "asked_pps", asked, "rate_pps", rate, "probes", probes)
	return err
}

// String says what was chosen and why.
func (p *RateProbe) String() string {
	return fmt.Sprintf("%s: test traffic %d pps (asked %d): the highest the guest, booted and not moving, answered with bounded latency; probes: %s",
		p.Guest, p.Rate, p.Asked, strings.Join(p.Probes, "; "))
}
