package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// moveGang moves the guests of mvs (all from one host to the other) in
// order o, each under its own test traffic, counts both hosts' uplinks
// and checks every guest afterwards as move does. The GangOutcome says
// which guests moved, also on error.
func moveGang(ctx context.Context, o gangOrder, mvs []Move, before []vnfproto.Status) (GangRun, GangOutcome, []vnfproto.Status, error) {
	var trs []*traffic
	if rate := mvs[0].Settings.TrafficRate; rate > 0 {
		for _, mv := range mvs {
			tr, err := startTraffic(ctx, mv.Settings.Client, specIP(mv.Spec), rate)
			if err != nil {
				return GangRun{}, GangOutcome{}, before, err
			}
			defer tr.s.Stop()
			trs = append(trs, tr)
		}
		sleep(ctx, trafficLead)
	}
	from, to := mvs[0].From, mvs[0].To
	a0, b0, err := uplinks(from, to)
	if err != nil {
		return GangRun{}, GangOutcome{}, before, err
	}
	c0, err := readMachineCPU()
	if err != nil {
		return GangRun{}, GangOutcome{}, before, err
	}
	t0 := time.Now()
	g, err := o.move(ctx, mvs)
	t1 := time.Now()
	if err != nil {
		return GangRun{}, g, before, err
	}
	c1, err := readMachineCPU()
	if err != nil {
		return GangRun{}, g, before, err
	}
	a1, b1, err := uplinks(from, to)
	if err != nil {
		return GangRun{}, g, before, err
	}
	r := GangRun{Method: o.label, From: from.Name, To: to.Name, Time: g.Time, CPU: g.CPU,
		Machine: c1.since(c0), Wall: t1.Sub(t0), SrcUplinkBytes: a1 - a0, DstUplinkBytes: b1 - b0}
	if trs != nil {
		sleep(ctx, trafficTail)
		stopAll(trs)
	}
	for i, mv := range mvs {
		oc := g.Outcomes[i]
		vr := runOf(o.label, mv, oc)
		vr.Guest = mv.Spec.Name
		if trs != nil {
			t := trs[i].stop(migrationOf(oc), oc.Summary.Downtime, oc.Asked)
			if oc.Record != nil {
				t.Handoff = oc.Record.Handoff
			}
			vr.Traffic = &t
			r.TestBytes += frameBytes(trs[i].samples, t0, t1)
		}
		r.RAMBytes += vr.RAMBytes
		r.VMs = append(r.VMs, vr)
	}
	r.WireBytes = wireOf(r.SrcUplinkBytes, r.DstUplinkBytes, r.TestBytes)
	st, err := verifyAll(ctx, mvs, before)
	return r, g, st, err
}

// uplinks reads both hosts' uplink counters.
func uplinks(a, b *Host) (uint64, uint64, error) {
	x, err := a.WireBytes()
	if err != nil {
		return 0, 0, err
	}
	y, err := b.WireBytes()
	return x, y, err
}

// stopAll stops the streams at once (each waits for its late replies).
func stopAll(trs []*traffic) {
	var wg sync.WaitGroup
	for _, tr := range trs {
		wg.Go(func() { tr.s.Stop() })
	}
	wg.Wait()
}

// verifyAll checks every moved guest as move does, all at once.
func verifyAll(ctx context.Context, mvs []Move, before []vnfproto.Status) ([]vnfproto.Status, error) {
	st, errs := make([]vnfproto.Status, len(mvs)), make([]error, len(mvs))
	var wg sync.WaitGroup
	for i, mv := range mvs {
		wg.Go(func() {
			st[i], errs[i] = verify(ctx, mv.To, specIP(mv.Spec), before[i])
			if errs[i] != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("INTEGRITY CHECK FAILED for %s after the gang's move %s→%s: %w", mv.Spec.Name, mv.From.Name, mv.To.Name, errs[i])
			}
		})
	}
	wg.Wait()
	return st, errors.Join(errs...)
}
