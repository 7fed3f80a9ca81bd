package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

// printGangs writes the gangs' tables: the gangs side by side, their CPU,
// the coders' accounts (gang and guests) and each guest's test traffic.
func printGangs(w io.Writer, s GangSummary) {
	base := []string{gangBaseline}
	fmt.Fprintf(w, "\ngangs: every guest of a gang booted on one host and moved to the other, all at once; median [min-max] per gang move. "+
		"time = the first move asked for until the last guest ran at its destination with its source QEMU quit (nfhandoff: request to the last record completed; -sequential: the moves one after another, their times summed); "+
		"wire = the migration's bytes on the wire, (source + destination uplink tx+rx - the test frames) / 2: each migration byte crosses both uplinks, a test frame one; "+
		"-gang: the agents with --codec auto as one gang (one store), -none: the same gang with --codec none; largest pause = the longest guest's (nfhandoff: the record's paused); "+
		"CPU per GiB of RAM the QEMUs moved, every QEMU (with its guest's vCPU) and both agents; lost/dup/reord of each guest's test traffic; refs = pages sent as references, %% of the gang's pages\n")
	fmt.Fprintln(w, gangRateNote(s.GangResults))
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join([]string{"guest", "method", "runs", "total time ms", "wire MiB", "wire/" + gangBaseline, "time/" + gangBaseline,
		"largest pause ms", "CPU s/GiB", "lost per VM", "dup/reord", "refs %", "test MiB"}, "\t"))
	for _, r := range s.Rows {
		wire, tm := "-", "-"
		if t, ok := r.TotalRatio[gangBaseline]; ok {
			wire, tm = fmt.Sprintf("%.2f", r.WireRatio[gangBaseline]), fmt.Sprintf("%.2f", t)
		}
		lost := make([]string, len(r.LostPerVM))
		for i, l := range r.LostPerVM {
			lost[i] = fmt.Sprintf("%.0f", l.Median)
		}
		refs := "-"
		if c := r.Codec; c != nil {
			refs = fmt.Sprintf("%.1f", c.RefsPct.Median)
		}
		fmt.Fprintln(tw, strings.Join([]string{r.Guest, r.Method, fmt.Sprint(r.Runs), rng(r.TotalMS, "%.0f"), rng(r.WireMiB, "%.1f"), wire, tm,
			rng(r.DowntimeM, "%.0f"), rng(r.CPU.Total, "%.2f"), strings.Join(lost, " "), fmt.Sprintf("%d/%d", r.Duplicated, r.Reordered),
			refs, rng(r.TestMiB, "%.1f")}, "\t"))
	}
	tw.Flush()
	printOverTarget(w, s.Runs)
	rows := make([]Row, len(s.Rows))
	for i, r := range s.Rows {
		rows[i] = r.Row
	}
	fmt.Fprintln(w, "\ngangs' CPU seconds per GiB of RAM the QEMUs moved, user+system, summed over the gang (all QEMUs with their guests' vCPUs; each agent counted once)")
	printCPU(w, rows, base)
	fmt.Fprintln(w, "\nthe machine's processors over each gang move (/proc/stat, seconds summed over its cores): busy = user, system, irq and softirq for anyone; "+
		"other = busy minus the moves' processes above (the bench and its test traffic, the kernel's work outside them, guests not moving, other tenants of the machine); steal = taken by the hypervisor; "+
		"agents waited = both agents' threads runnable but not running (schedstat). "+schedNote())
	tw = newTable(w)
	fmt.Fprintln(tw, "guest\tmethod\tbusy s\tidle s\tsteal s\tother s\tagents waited s")
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Guest, r.Method, rng(r.BusyS, "%.1f"), rng(r.IdleS, "%.1f"), rng(r.StealS, "%.1f"),
			rng(r.OtherS, "%.1f"), rng(r.AgentWaitS, "%.1f"))
	}
	tw.Flush()
	codec := append(rows, s.Members...)
	if hasCodec(codec) {
		fmt.Fprintln(w, "\nthe gangs' coders' accounts (the gang summed, then each guest), from the source agent's records: QEMU = the bytes QEMU wrote, link = what the agents sent for them (before TLS); "+
			"the split is of the PAGE records (zero pages apart), % by how they went (medians); time and wire over "+uncodedTwin["nfhandoff-gang"]+"'s, for the gang")
		printCodec(w, codec)
	}
	if s.Rate > 0 {
		fmt.Fprintf(w, "\neach gang guest's test traffic: TWAMP-light at %d pps from the client namespace, from %v before the gang's move to %v after; "+
			"gap = longest time between two replies, loss gap = verify's largest gap (0 without loss), gap-down = gap minus the guest's downtime; lost-X, gap/X: against the same guest's in X (medians)\n",
			s.Rate, trafficLead, trafficTail)
		printTraffic(w, s.Members, base)
	}
}

// gangRateNote says what rate the gangs' test traffic ran at and why.
func gangRateNote(r GangResults) string {
	switch {
	case r.AskedRate == 0:
		return "no test traffic (--traffic-rate 0)"
	case r.Rate == r.AskedRate:
		return fmt.Sprintf("test traffic: %d pps to each guest; the guests, booted and not moving, answered it all at once with bounded latency (every packet once and in order, the median round trip of every second but the first at most %v): %s",
			r.Rate, netverify.ProbeMaxMedian, strings.Join(r.Probes, "; "))
	}
	return fmt.Sprintf("test traffic: %d pps to each guest, NOT the %d asked: the guests, booted and not moving, did not answer %d pps all at once with bounded latency (every packet once and in order, the median round trip of every second but the first at most %v); probes: %s",
		r.Rate, r.AskedRate, r.AskedRate, netverify.ProbeMaxMedian, strings.Join(r.Probes, "; "))
}

// printOverTarget lists the gangs' guests whose pause was over the
// request's downtime target, with where it went, if any was.
func printOverTarget(w io.Writer, runs []GangRun) {
	head := false
	for _, r := range runs {
		for _, v := range r.VMs {
			rec := v.Record
			if rec == nil || rec.Paused <= rec.Target {
				continue
			}
			if !head {
				fmt.Fprintln(w, "guests paused over the downtime target (the record's paused, where it went, its notes):")
				head = true
			}
			parts := "parts unknown"
			if rec.PausedParts != nil {
				parts = rec.PausedParts.String()
			}
			fmt.Fprintf(w, "  %s run %d %s: paused %v (target %v): %s", r.Method, r.N, v.Guest, rec.Paused.Round(time.Millisecond), rec.Target, parts)
			if len(rec.Notes) > 0 {
				fmt.Fprintf(w, "; %s", strings.Join(rec.Notes, "; "))
			}
			fmt.Fprintln(w)
		}
	}
}

// schedNote says how the scheduler groups the moves' processes: with
// autogroups on, every session is a group the scheduler shares the
// processors between evenly.
func schedNote() string {
	b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	if err != nil || strings.TrimSpace(string(b)) != "1" {
		return "The kernel's autogroups are off."
	}
	return "The kernel's autogroups are on: every QEMU (its own session) is a scheduler group of its own, the agents share the bench's (see startAgent); the groups share the processors evenly."
}
