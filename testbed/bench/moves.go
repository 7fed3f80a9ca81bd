package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// benchGuest migrates g with every method: per family of methods it
// boots the guest on the first host with the family's first method and
// moves it back and forth, each method of the family in turn, warmup
// times uncounted then runs times, then stops it (one guest runs at a time: the machine is small).
func benchGuest(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings) ([]Run, []IdleAB, error) {
	var out []Run
	var idle []IdleAB
	port := 49000
	for _, fam := range families(ms) {
		rs, is, err := benchFamily(ctx, log, g, hosts, fam, warmup, runs, set, &port)
		out = append(out, rs...)
		idle = append(idle, is...)
		if err != nil {
			return out, idle, err
		}
	}
	return out, idle, nil
}

// families groups methods by Family, in first-seen order.
func families(ms []Method) [][]Method {
	var out [][]Method
	idx := map[string]int{}
	for _, m := range ms {
		i, ok := idx[m.Family()]
		if !ok {
			i = len(out)
			idx[m.Family()] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

func benchFamily(ctx context.Context, log *slog.Logger, g Guest, hosts []*Host, ms []Method, warmup, runs int, set Settings, port *int) ([]Run, []IdleAB, error) {
	spec := g.Spec()
	from := hosts[0]
	guest, err := ms[0].Boot(ctx, spec, from)
	if err != nil {
		return nil, nil, fmt.Errorf("booting for %s: %w", ms[0].Name(), err)
	}
	defer func() { stopGuest(guest) }()
	before, err := waitReady(ctx, from, specIP(spec))
	if err != nil {
		return nil, nil, err
	}
	var idle []IdleAB
	if dm, ok := ms[0].(dataplaneMethod); ok && g.Firewall && dm.PinDir(from) != "" {
		is, err := idleCost(ctx, from, dm.PinDir(from), spec, g.Label)
		if err != nil {
			return nil, nil, fmt.Errorf("the dataplane's idle cost: %w", err)
		}
		log.Info("idle throughput", "guest", g.Label, "attached_mbps", is.Attached, "detached_mbps", is.Detached)
		idle = append(idle, is)
	}
	if p := set.Probe; p != nil {
		if err := p.choose(ctx, log, specIP(spec), set.TrafficRate); err != nil {
			return nil, idle, fmt.Errorf("the test traffic's rate: %w", err)
		}
		set.TrafficRate = p.Rate
	}
	log.Info("guest ready", "guest", g.Label, "host", from.Name, "family", ms[0].Family(), "wss_pages", before.WSSPages)
	var out []Run
	for n := 1 - warmup; n <= runs; n++ { // n < 1: warm-up moves
		for _, m := range ms {
			to := hosts[0]
			if from == hosts[0] {
				to = hosts[1]
			}
			*port++
			r, dst, st, err := move(ctx, m, Move{Spec: spec, From: from, To: to, Src: guest, Port: *port, Settings: set}, before)
			if dst != nil {
				stopGuest(guest)
				guest, from, before = dst, to, st
			}
			if err != nil {
				return out, idle, fmt.Errorf("%s run %d: %w", m.Name(), n, err)
			}
			if n < 1 {
				log.Info("warm-up move (not counted)", "guest", g.Label, "method", m.Name(), "total", r.TotalTime)
				continue
			}
			r.Guest, r.N = g.Label, n
			if t := r.Traffic; t != nil && t.Lost > 0 {
				// Rare enough to be read move by move: where the packets went.
				log.Warn("test packets lost", "guest", g.Label, "method", m.Name(), "run", n, "lost", t.Lost,
					"reflector_seq_continuous", t.ReflectorContinuous, "guest_drops", t.GuestDrops, "handoff", t.Handoff != nil)
			}
			log.Info("migrated", "guest", g.Label, "method", m.Name(), "run", n, "from", r.From, "to", r.To,
				"total", r.TotalTime, "setup", r.SetupTime, "downtime", r.Downtime, "ram_mib", r.RAMBytes>>20, "wire_mib", r.WireBytes>>20)
			out = append(out, r)
		}
	}
	return out, idle, nil
}

// move runs one migration and checks the guest afterwards.
func move(ctx context.Context, m Method, mv Move, before vnfproto.Status) (Run, Running, vnfproto.Status, error) {
	var tr *traffic
	// A firewall guest's traffic is the TCP flow through it (below): its
	// own reflector is not what it serves.
	if rate := mv.Settings.TrafficRate; rate > 0 && len(mv.Spec.NICs) == 0 {
		var err error
		if tr, err = startTraffic(ctx, mv.Settings.Client, specIP(mv.Spec), rate); err != nil {
			return Run{}, nil, before, err
		}
		defer tr.s.Stop()
		sleep(ctx, trafficLead)
	}
	var tcp *tcpFlow
	if len(mv.Spec.NICs) > 0 { // a firewall guest: a TCP flow through it too
		var err error
		if tcp, err = startTCP(ctx, tcpRate); err != nil {
			return Run{}, nil, before, err
		}
		defer tcp.stop()
		if tr == nil {
			sleep(ctx, trafficLead)
		}
	}
	w0, err := mv.From.WireBytes()
	if err != nil {
		return Run{}, nil, before, err
	}
	asked := time.Now()
	o, err := m.Migrate(ctx, mv)
	if err != nil {
		return Run{}, nil, before, err
	}
	w1, err := mv.From.WireBytes()
	if err != nil {
		return Run{}, o.Dst, before, err
	}
	var tx *TrafficRun
	if tr != nil {
		sleep(ctx, mv.Settings.tail())
		t := tr.stop(migrationOf(o), o.Summary.Downtime, asked)
		if o.Record != nil {
			t.Handoff = o.Record.Handoff
		}
		if dir := mv.Settings.TrafficReports; dir != "" {
			dir = filepath.Join(dir, fmt.Sprintf("%s-%s-%s", mv.Spec.Name, m.Name(), asked.Format("150405")))
			if err := tr.writeReport(dir); err != nil {
				return Run{}, o.Dst, before, fmt.Errorf("writing the traffic report: %w", err)
			}
		}
		tx = &t
	}
	var tcpRun *TCPRun
	if tcp != nil {
		if tr == nil {
			sleep(ctx, trafficTail)
		}
		t, _ := tcp.stop()
		tcpRun = &t
	}
	st, err := verify(ctx, mv.To, specIP(mv.Spec), before)
	if tx != nil && err == nil {
		tx.GuestDrops = guestDrops(before, st)
	}
	r := runOf(m.Name(), mv, o)
	r.WireBytes, r.Traffic, r.TCP = w1-w0, tx, tcpRun
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("INTEGRITY CHECK FAILED after %s move %s→%s: %w", m.Name(), mv.From.Name, mv.To.Name, err)
	}
	return r, o.Dst, st, err
}

func stopGuest(g Running) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Stop(ctx)
}
