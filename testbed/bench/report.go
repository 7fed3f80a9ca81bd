package main

// A run's report: the notes on what it ran under, the tables (print.go,
// postcopyprint.go, gangprint.go) and the same results as JSON.

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// baselines are the methods the single guests' ratios are taken against:
// plain QEMU's, and libvirt's own for the libvirt rows (--libvirt).
var baselines = []string{"qemu-tcp", "qemu-tls", "libvirt-tcp", "libvirt-tls"}

// presentBaselines are the baselines some row is of, in baselines' order:
// the tables' ratio columns.
func presentBaselines(rows []Row) []string {
	var out []string
	for _, b := range baselines {
		if slices.ContainsFunc(rows, func(r Row) bool { return r.Method == b }) {
			out = append(out, b)
		}
	}
	return out
}

// results are what a run measured, as its moves brought it.
type results struct {
	runs   []Run
	idle   []IdleAB
	gangs  GangResults
	probes []*RateProbe
	mem    coldMemory
}

// report is a run's results summarised once, for the tables and the JSON
// alike.
type report struct {
	o        options
	guests   []Guest
	res      results
	rows     []Row // summarise's, of res.runs
	postcopy []PostcopyRow
	gangs    *GangSummary // nil: no gang moved
}

func newReport(o options, gs []Guest, res results) report {
	r := report{o: o, guests: gs, res: res, rows: summarise(res.runs, baselines)}
	r.postcopy = summarisePostcopy(r.rows, res.runs, postcopyBaseline)
	if len(res.gangs.Runs) > 0 {
		s := summariseGangs(res.gangs)
		r.gangs = &s
	}
	return r
}

// print writes the notes, then the tables of what was moved.
func (r report) print(w io.Writer) {
	r.printNotes(w)
	if len(r.res.runs) > 0 {
		printSingles(w, r.rows, r.res.idle, r.o.traffic)
	}
	if len(r.postcopy) > 0 {
		printPostcopy(w, r.postcopy)
	}
	if r.gangs != nil {
		printGangs(w, *r.gangs)
	}
}

// printNotes writes the settings every table shares, what a guest of its
// own changed of them, and what the machine's memory costs.
func (r report) printNotes(w io.Writer) {
	o := r.o
	fmt.Fprintf(w, "live migration, median [min-max] of %d runs after %d warm-up move(s) per method (not counted); QEMU max-bandwidth %d MiB/s and downtime-limit %v for every method; wire = source uplink tx+rx\n",
		o.runs, o.warmup, o.bandwidth>>20, o.downtime)
	if o.libvirt {
		fmt.Fprintf(w, "on the testbed (testbed/up --libvirt --agents): one libvirtd per host, libvirt's control connection on its TLS; the cap as libvirt's --bandwidth %d MiB/s, the downtime limit set on the source domain before each move (virDomainMigrateSetMaxDowntime); "+
			"total = the request (virsh migrate started, the agents' migrate request sent) until the domain ran at the destination and the move was done (virsh returned, libvirt's confirm having taken the source QEMU down; the agent's record completed); "+
			"downtime = libvirt's job statistics' downtime (the source's stop to the destination's resume) for libvirt-tcp/tls, the agent record's paused for nfhandoff-libvirt; RAM moved = libvirt's memory_processed\n", lvMiB(o.bandwidth))
	}
	if o.linkRate != "" {
		fmt.Fprintf(w, "the hosts' link to each other shaped to %s each way (every method's migration; the guests' traffic is not)\n", o.linkRate)
	}
	for _, g := range r.guests {
		if g.MaxBandwidth > 0 {
			fmt.Fprintf(w, "%s: max-bandwidth %d MiB/s for every method (the guest's own)\n", g.Label, g.MaxBandwidth>>20)
		}
		if g.TrafficTail > 0 {
			fmt.Fprintf(w, "%s: test traffic until %v after each move (for the VNF's recovery)\n", g.Label, g.TrafficTail)
		}
	}
	for _, p := range r.res.probes {
		fmt.Fprintln(w, p)
	}
	fmt.Fprintf(w, "%s; every source QEMU quits as its guest runs at the destination\n", r.res.mem)
}

// jsonFile is what --json writes.
func (r report) jsonFile() []byte {
	o, res := r.o, r.res
	b, _ := json.MarshalIndent(map[string]any{
		"runs_per_config": o.runs, "warmup_per_config": o.warmup, "max_bandwidth": o.bandwidth, "downtime_limit": o.downtime.String(), "link_rate": o.linkRate, "libvirt": o.libvirt,
		"summary": r.rows, "runs": res.runs, "memory_touch": res.mem, "idle_tcp": res.idle, "gang": r.gangs, "postcopy": r.postcopy, "rate_probes": res.probes,
	}, "", "  ")
	return append(b, '\n')
}
