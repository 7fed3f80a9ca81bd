package main

// The bench's tables: the summaries of stats.go, printed.

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// printSingles writes the tables of the guests moved one at a time: side
// by side, the records, the coders', CPU, traffic, TCP through the
// firewall; rate is the test traffic's (0: none).
func printSingles(w io.Writer, rows []Row, idle []IdleAB, rate int) {
	baselines := presentBaselines(rows)
	printTable(w, rows, baselines)
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Record != nil && r.Method != "nfhandoff-libvirt" }) {
		fmt.Fprintln(w, "\nnfhandoff, from the source agent's record: end-to-end = request until the record completed (dial, destination QEMU start, hand-back, source QEMU quit); QEMU times above exclude that, as for the plain methods (destination started first)."+
			" nfhandoff runs one QEMU channel (postcopy auto, no multifd) on a TLS lane over TCP with its initial bandwidth = the cap (nfhandoff-adaptive: the agents' default 64 MiB/s start; nfhandoff-quic: the channel on a QUIC stream; nfhandoff-multifd2: two multifd channels, post-copy never; nfhandoff-codec: --codec auto, RAM pages coded on the link)")
		printRecords(w, rows)
	} else if slices.ContainsFunc(rows, func(r Row) bool { return r.Record != nil }) {
		fmt.Fprintln(w, "\nnfhandoff-libvirt, from the source agent's record: end-to-end = the record's start to its end; agents' payload = the bytes of libvirt's stream the agents relayed; guest paused = libvirt's stop at the source to the agent's resume at the destination")
		printRecords(w, rows)
	}
	printLibvirt(w, rows)
	if hasCodec(rows) {
		fmt.Fprintln(w, "\nthe coders' account, from the source agent's record: QEMU = the bytes QEMU wrote, link = what the agents sent for them (before TLS); "+
			"the split is of the PAGE records (zero pages apart), % by how they went (medians); time and wire over "+uncodedTwin["nfhandoff-codec"]+"'s, for nfhandoff-codec")
		printCodec(w, rows)
	}
	fmt.Fprintln(w, "\nCPU seconds per GiB of RAM QEMU moved, user+system, from the request until the guest ran at the destination (both QEMUs include their guest's vCPU; libvirt's methods: until the move was done, with both libvirt daemons)")
	printCPU(w, rows, baselines)
	if rate > 0 && slices.ContainsFunc(rows, func(r Row) bool { return r.Traffic != nil }) {
		fmt.Fprintf(w, "\ntraffic during the migration: TWAMP-light at %d pps from the client namespace through the switch, from %v before to %v after; "+
			"gap = longest time between two replies (lost or held back), loss gap = verify's largest gap (0 without loss), gap-down = gap minus QEMU downtime; "+
			"lost-X = lost minus X's, gap/X = gap over X's (medians)\n", rate, trafficLead, trafficTail)
		printTraffic(w, rows, baselines)
	}
	if hasTCP(rows) {
		fmt.Fprintf(w, "\nTCP through the firewall guest (client to the server behind it, NATed): Debian's iperf3 at %d Mbit/s from %v before each move to %v after; longest stall = the longest run of iperf3's 100 ms intervals without a byte\n",
			tcpRate/1_000_000, trafficLead, trafficTail)
		printTCP(w, rows, idle)
	}
}

// printTable writes the side-by-side table.
func printTable(w io.Writer, rows []Row, baselines []string) {
	tw := newTable(w)
	head := []string{"guest", "method", "runs", "total time ms", "downtime ms", "wire MiB"}
	for _, b := range baselines {
		head = append(head, "time/"+b, "down/"+b, "wire/"+b)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		cols := []string{r.Guest, r.Method, fmt.Sprint(r.Runs), rng(r.TotalMS, "%.0f"), rng(r.DowntimeM, "%.0f"), rng(r.WireMiB, "%.1f")}
		for _, b := range baselines {
			t, ok := r.TotalRatio[b]
			if !ok {
				cols = append(cols, "-", "-", "-")
				continue
			}
			cols = append(cols, fmt.Sprintf("%.2f", t), fmt.Sprintf("%.2f", r.DowntimeRatio[b]), fmt.Sprintf("%.2f", r.WireRatio[b]))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// printRecords writes what the agents' records add, if any method has them.
func printRecords(w io.Writer, rows []Row) {
	tw := newTable(w)
	head := false
	for _, r := range rows {
		rec := r.Record
		if rec == nil {
			continue
		}
		if !head {
			fmt.Fprintln(tw, "guest\tmethod\tend-to-end ms\tagents' payload MiB\tpasses\tpost-copy runs\tguest paused ms\tpaused <= target")
			head = true
		}
		// A libvirt move's record has no passes (QEMU is libvirt's; its
		// job statistics have them).
		passes := "-"
		if rec.Passes.Max > 0 {
			passes = rng(rec.Passes, "%.0f")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d of %d\n", r.Guest, r.Method, rng(rec.EndToEndMS, "%.0f"),
			rng(rec.PayloadMiB, "%.1f"), passes, rec.PostcopyRuns, rng(rec.PausedMS, "%.0f"), rec.WithinTarget, r.Runs)
	}
	tw.Flush()
}

// newTable is the layout of every table: columns two spaces apart.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
}

// rng formats "median [min-max]".
func rng(s Stat, f string) string {
	return fmt.Sprintf(f+" ["+f+"-"+f+"]", s.Median, s.Min, s.Max)
}

// printTraffic writes the traffic table, if any row has traffic.
func printTraffic(w io.Writer, rows []Row, baselines []string) {
	tw := newTable(w)
	head := []string{"guest", "method", "lost", "gap ms", "gap at ms (phase)", "loss gap ms", "downtime ms", "gap-down ms", "dup/reord/breaks", "hand-off carried/dropped"}
	for _, b := range baselines {
		head = append(head, "lost-"+b, "gap/"+b)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		x := r.Traffic
		if x == nil {
			continue
		}
		ho := "-"
		if x.HandoffCarried+x.HandoffDropped > 0 || r.Record != nil {
			ho = fmt.Sprintf("%d/%d", x.HandoffCarried, x.HandoffDropped)
		}
		at := rng(x.GapAtMS, "%.0f")
		if len(x.GapPhases) > 0 {
			at += " (" + phaseCounts(x.GapPhases) + ")"
		}
		cols := []string{r.Guest, r.Method, rng(x.Lost, "%.0f"), rng(x.GapMS, "%.0f"), at, rng(x.LossGapMS, "%.0f"),
			rng(r.DowntimeM, "%.0f"), rng(x.GapMinusDownMS, "%.0f"),
			fmt.Sprintf("%d/%d/%d", x.Duplicated, x.Reordered, x.ReflectorBreaks), ho}
		for _, b := range baselines {
			d, ok := x.LostDiff[b]
			if !ok {
				cols = append(cols, "-", "-")
				continue
			}
			cols = append(cols, fmt.Sprintf("%+.0f", d), fmt.Sprintf("%.2f", x.GapRatio[b]))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// printCPU writes the CPU table: seconds per GiB of RAM QEMU moved.
func printCPU(w io.Writer, rows []Row, baselines []string) {
	tw := newTable(w)
	daemons := slices.ContainsFunc(rows, func(r Row) bool { return r.CPU.SrcDaemon.Max+r.CPU.DstDaemon.Max > 0 })
	head := []string{"guest", "method", "src qemu", "dst qemu", "src agent", "dst agent"}
	if daemons {
		head = append(head, "src libvirtd", "dst libvirtd")
	}
	head = append(head, "total")
	for _, b := range baselines {
		head = append(head, "total/"+b)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		c := r.CPU
		cols := []string{r.Guest, r.Method, rng(c.SrcQEMU, "%.2f"), rng(c.DstQEMU, "%.2f"), rng(c.SrcAgent, "%.2f"),
			rng(c.DstAgent, "%.2f")}
		if daemons {
			cols = append(cols, rng(c.SrcDaemon, "%.2f"), rng(c.DstDaemon, "%.2f"))
		}
		cols = append(cols, rng(c.Total, "%.2f"))
		for _, b := range baselines {
			if t, ok := c.TotalRatio[b]; ok {
				cols = append(cols, fmt.Sprintf("%.2f", t))
			} else {
				cols = append(cols, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// phaseCounts formats runs by phase, e.g. "precopy 2, switchover 1".
func phaseCounts(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}
