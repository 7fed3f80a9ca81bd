package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

// printPostcopy writes the post-copy rows (summarisePostcopy's).
func printPostcopy(w io.Writer, rows []PostcopyRow) {
	fmt.Fprintf(w, "\npost-copy: qemu-postcopy is plain QEMU over TCP told migrate-start-postcopy at the end of the first pass (dirty-sync-count %d), the nfhandoff rows ask postcopy always (the same switch point) with prefetch none or working-set; "+
		"pause = the record's paused, for qemu-postcopy the source's STOP to the destination's RESUME event; "+
		"remote faults = the guest's own page requests after the switch (QEMU's postcopy-requests at the source less the agent's injected requests); "+
		"split (with a prefetch, medians) = the destination's own requests before the prefetch began / in the working set asked for already / in it not reached yet / outside it; "+
		"recovery = from the guest's resume at the destination to the end of the last 500 ms window with under %.0f%% of the pre-migration reply rate before a second of windows at it (recovered: back at it before the traffic ended); "+
		"ratios of the medians over %s's (issue 11's targets: recovery <= 0.3, faults <= 0.2)\n", postcopyPass, netverify.RecoveredShare*100, postcopyBaseline)
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join([]string{"guest", "method", "post-copy runs", "total time ms", "pause ms", "remote faults", "split", "injected pages",
		"recovery ms", "recovered", "lost", "dup/reord", "recovery/" + postcopyBaseline, "faults/" + postcopyBaseline}, "\t"))
	for _, r := range rows {
		recov := "-"
		if r.Measured > 0 {
			recov = rng(r.RecoveryMS, "%.0f")
		}
		cols := []string{r.Guest, r.Method, fmt.Sprintf("%d of %d", r.Postcopy, r.Runs), rng(r.TotalMS, "%.0f"), rng(r.PauseMS, "%.0f"),
			rng(r.RemoteFaults, "%.0f"), fmtSplit(r.Split), rng(r.InjectedPages, "%.0f"), recov, fmt.Sprintf("%d of %d", r.Recovered, r.Measured),
			rng(r.Lost, "%.0f"), fmt.Sprintf("%d/%d", r.Duplicated, r.Reordered), fmtRatio(r.RecoveryRatio), fmtRatio(r.FaultsRatio)}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}

// fmtSplit formats a fault split, "-" when there is none.
func fmtSplit(f *api.PrefetchFaults) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d/%d/%d", f.Before, f.Asked, f.Ahead, f.Outside)
}

// fmtRatio formats a ratio, "-" when there is none.
func fmtRatio(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}
