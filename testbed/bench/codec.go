package main

// The agents' page coding (migrator/pagecode): what the source agent's
// record says of it, summarised and printed.

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// uncodedTwin names, by method, the same method with codec none.
var uncodedTwin = map[string]string{"nfhandoff-codec": "nfhandoff", "nfhandoff-gang": "nfhandoff-none"}

// CodecRow summarises the coders' accounts of one guest and method.
type CodecRow struct {
	Runs        int  `json:"runs"` // runs with an account
	QEMUMiB     Stat `json:"qemu_mib"`
	LinkMiB     Stat `json:"link_mib"`
	LinkPerQEMU Stat `json:"link_per_qemu"` // per run
	Pages       Stat `json:"pages"`         // PAGE records, zero pages apart
	// The pages by how they went, % of Pages per run.
	RefsPct   Stat `json:"refs_pct"`
	DeltasPct Stat `json:"deltas_pct"`
	LitsPct   Stat `json:"lits_pct"`
	RawPct    Stat `json:"raw_pct"`
	// Refused are the distinct reasons a channel was not coded.
	Refused []string `json:"refused,omitempty"`
	// Uncoded is the same method with codec none, when it ran on this
	// guest; TotalRatio and WireRatio are this row's medians over its.
	Uncoded    string  `json:"uncoded,omitempty"`
	TotalRatio float64 `json:"total_time_ratio,omitempty"`
	WireRatio  float64 `json:"wire_ratio,omitempty"`
}

// summariseCodec fills Codec of every row whose runs carry a coder's
// account; rows are summarise's, one per guest and method.
func summariseCodec(rows []Row, runs []Run) {
	idx := map[[2]string]int{}
	for i, r := range rows {
		idx[[2]string{r.Guest, r.Method}] = i
	}
	v := map[int]*[8][]float64{} // row -> qemu, link MiB, link/qemu, pages, refs, deltas, lits, raw %
	for _, r := range runs {
		if r.Record == nil || r.Record.Codec == nil {
			continue
		}
		c, i := r.Record.Codec, idx[[2]string{r.Guest, r.Method}]
		row := &rows[i]
		if row.Codec == nil {
			row.Codec, v[i] = &CodecRow{}, &[8][]float64{}
		}
		row.Codec.Runs++
		if c.Refused != "" && !slices.Contains(row.Codec.Refused, c.Refused) {
			row.Codec.Refused = append(row.Codec.Refused, c.Refused)
		}
		x := v[i]
		x[0] = append(x[0], float64(c.QEMUBytes)/(1<<20))
		x[1] = append(x[1], float64(c.LinkBytes)/(1<<20))
		x[2] = append(x[2], ratio(float64(c.LinkBytes), float64(c.QEMUBytes)))
		x[3] = append(x[3], float64(c.Pages))
		for k, n := range []int64{c.Refs, c.Deltas, c.Lits, c.Raw} {
			x[4+k] = append(x[4+k], 100*ratio(float64(n), float64(c.Pages)))
		}
	}
	for i, x := range v {
		c := rows[i].Codec
		c.QEMUMiB, c.LinkMiB, c.LinkPerQEMU, c.Pages = stat(x[0]), stat(x[1]), stat(x[2]), stat(x[3])
		c.RefsPct, c.DeltasPct, c.LitsPct, c.RawPct = stat(x[4]), stat(x[5]), stat(x[6]), stat(x[7])
		twin, ok := uncodedTwin[rows[i].Method]
		j, found := idx[[2]string{rows[i].Guest, twin}]
		if !ok || !found {
			continue
		}
		c.Uncoded = twin
		c.TotalRatio = ratio(rows[i].TotalMS.Median, rows[j].TotalMS.Median)
		c.WireRatio = ratio(rows[i].WireMiB.Median, rows[j].WireMiB.Median)
	}
}

// printCodec writes the coders' table, one line per row with an account.
func printCodec(w io.Writer, rows []Row) {
	tw := newTable(w)
	fmt.Fprintln(tw, "guest\tmethod\truns\tQEMU MiB\tlink MiB\tlink/QEMU\tpages\trefs %\tdeltas %\tlits %\traw %\ttime/uncoded\twire/uncoded\trefused")
	for _, r := range rows {
		c := r.Codec
		if c == nil {
			continue
		}
		vs := []string{"-", "-"}
		if c.Uncoded != "" {
			vs = []string{fmt.Sprintf("%.2f", c.TotalRatio), fmt.Sprintf("%.2f", c.WireRatio)}
		}
		refused := "-"
		if len(c.Refused) > 0 {
			refused = strings.Join(c.Refused, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d of %d\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\n", r.Guest, r.Method, c.Runs, r.Runs,
			rng(c.QEMUMiB, "%.1f"), rng(c.LinkMiB, "%.1f"), rng(c.LinkPerQEMU, "%.2f"), rng(c.Pages, "%.0f"),
			c.RefsPct.Median, c.DeltasPct.Median, c.LitsPct.Median, c.RawPct.Median, vs[0], vs[1], refused)
	}
	tw.Flush()
}

// hasCodec reports whether any row has a coders' account.
func hasCodec(rows []Row) bool {
	return slices.ContainsFunc(rows, func(r Row) bool { return r.Codec != nil })
}
