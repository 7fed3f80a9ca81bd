package main

// Issue 10's gang: several guests of one configuration (Guest.Gang),
// booted on the first host and moved to the other all at once by every
// method, under test traffic each: the plain methods' moves started
// together and one after another, the agents' as one gang (gangMethod).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// GangResults are the gangs' runs and the test traffic they ran under.
type GangResults struct {
	AskedRate int       `json:"asked_rate_pps"` // --traffic-rate
	Rate      int       `json:"rate_pps"`       // test packets/s to each guest
	Probes    []string  `json:"rate_probes"`    // how Rate was chosen
	Runs      []GangRun `json:"runs"`
}

// bench boots g's guests for each family of ms in turn and moves them
// back and forth, with each of the family's gang orders in turn, warmup
// times uncounted then runs times.
func (res *GangResults) bench(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings) error {
	port := 49500
	for _, fam := range families(ms) {
		if err := res.family(ctx, log, g, hosts, fam, warmup, runs, set, &port); err != nil {
			return err
		}
	}
	return nil
}

func (res *GangResults) family(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings, port *int) error {
	specs, from := g.Specs(), hosts[0]
	gs := make([]Running, len(specs))
	defer func() {
		for _, r := range gs {
			if r != nil {
				stopGuest(r)
			}
		}
	}()
	for i, spec := range specs {
		r, err := ms[0].Boot(ctx, spec, from)
		if err != nil {
			return fmt.Errorf("booting %s for %s: %w", spec.Name, ms[0].Name(), err)
		}
		gs[i] = r
	}
	before := make([]vnfproto.Status, len(specs))
	for i, spec := range specs {
		st, err := waitReady(ctx, from, specIP(spec))
		if err != nil {
			return err
		}
		before[i] = st
	}
	if err := res.chooseRate(ctx, log, specs, set.TrafficRate); err != nil {
		return err
	}
	set.TrafficRate = res.Rate
	log.Info("gang ready", "guest", g.Label, "host", from.Name, "family", ms[0].Family(), "rate_pps", res.Rate)
	for n := 1 - warmup; n <= runs; n++ { // n < 1: warm-up moves
		for _, m := range ms {
			for _, o := range gangOrders(m) {
				to := hosts[0]
				if from == hosts[0] {
					to = hosts[1]
				}
				mvs := make([]Move, len(specs))
				for i := range specs {
					*port++
					mvs[i] = Move{Spec: specs[i], From: from, To: to, Src: gs[i], Port: *port, Settings: set}
				}
				r, out, st, err := moveGang(ctx, o, mvs, before)
				for i, oc := range out.Outcomes {
					if oc.Dst != nil {
						stopGuest(gs[i])
						gs[i] = oc.Dst
					}
				}
				if err != nil {
					return fmt.Errorf("%s run %d: %w", o.label, n, err)
				}
				from, before = to, st
				if n < 1 {
					log.Info("warm-up gang move (not counted)", "guest", g.Label, "method", o.label, "time", r.Time)
					continue
				}
				r.Guest, r.N = g.Label, n
				for i := range r.VMs {
					r.VMs[i].Guest = g.Label + "/" + r.VMs[i].Guest
				}
				log.Info("gang moved", "guest", g.Label, "method", o.label, "run", n, "from", r.From, "to", r.To,
					"time", r.Time, "ram_mib", r.RAMBytes>>20, "wire_mib", r.WireBytes>>20, "test_mib", r.TestBytes>>20)
				res.Runs = append(res.Runs, r)
			}
		}
	}
	return nil
}

// gangOrder is one way of moving a gang: its row's label and the move.
type gangOrder struct {
	label string
	move  func(ctx context.Context, mvs []Move) (GangOutcome, error)
}

// gangOrders are the ways m moves a gang: the agents' gang, or for the
// other methods, their moves started at once (-together) and one after
// another (-sequential).
func gangOrders(m Method) []gangOrder {
	if g, ok := m.(gangMethod); ok {
		return []gangOrder{{g.GangName(), g.MigrateGang}}
	}
	return []gangOrder{
		{m.Name() + "-together", func(ctx context.Context, mvs []Move) (GangOutcome, error) { return together(ctx, m, mvs) }},
		{m.Name() + "-sequential", func(ctx context.Context, mvs []Move) (GangOutcome, error) { return oneByOne(ctx, m, mvs) }},
	}
}

// together starts every move at once; its time is from then until the
// last move returned (each ends when its guest runs at the destination
// and its source QEMU quit).
func together(ctx context.Context, m Method, mvs []Move) (GangOutcome, error) {
	g := GangOutcome{Outcomes: make([]Outcome, len(mvs))}
	errs, took := make([]error, len(mvs)), make([]time.Duration, len(mvs))
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, mv := range mvs {
		wg.Go(func() {
			o, err := m.Migrate(ctx, mv)
			o.Asked, took[i] = t0, time.Since(t0)
			if err != nil {
				err = fmt.Errorf("%s: %w", mv.Spec.Name, err)
			}
			g.Outcomes[i], errs[i] = o, err
		})
	}
	wg.Wait()
	for i, o := range g.Outcomes {
		g.Time, g.CPU = max(g.Time, took[i]), g.CPU.plus(o.CPU)
	}
	return g, errors.Join(errs...)
}

// oneByOne moves the guests one after another; its time is the moves'
// summed.
func oneByOne(ctx context.Context, m Method, mvs []Move) (GangOutcome, error) {
	g := GangOutcome{Outcomes: make([]Outcome, len(mvs))}
	for i, mv := range mvs {
		t := time.Now()
		o, err := m.Migrate(ctx, mv)
		o.Asked = t
		g.Outcomes[i], g.Time, g.CPU = o, g.Time+time.Since(t), g.CPU.plus(o.CPU)
		if err != nil {
			return g, fmt.Errorf("%s: %w", mv.Spec.Name, err)
		}
	}
	return g, nil
}
