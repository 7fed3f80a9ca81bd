package main

// Issue 11's row: the post-copy methods side by side, the guest's own
// remote faults after the switch and the VNF's recovery, against plain
// QEMU's post-copy.

import (
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// postcopyBaseline is the method the post-copy row's ratios are over.
const postcopyBaseline = "qemu-postcopy"

// postcopyMethods always have a post-copy row, even if a run of theirs did
// not reach post-copy.
var postcopyMethods = []string{"qemu-postcopy", "nfhandoff-postcopy", "nfhandoff-postcopy-ws"}

// PostcopyRun is a move through post-copy: the page requests QEMU's return
// path brought (postcopy-requests at the source) and how many of them were
// the guest's own faults at the destination (the rest the agent injected).
type PostcopyRun struct {
	RemoteFaults uint64              `json:"remote_faults"`
	Requests     uint64              `json:"postcopy_requests"`
	Prefetch     *api.PrefetchReport `json:"prefetch,omitempty"`
}

// PostcopyRow summarises one guest and post-copy method.
type PostcopyRow struct {
	Guest    string `json:"guest"`
	Method   string `json:"method"`
	Runs     int    `json:"runs"`
	Postcopy int    `json:"postcopy_runs"` // runs that went through post-copy
	TotalMS  Stat   `json:"total_time_ms"`
	// PauseMS is the guest's pause (Row.DowntimeM): the record's paused,
	// or for qemu-postcopy from the source's STOP to the destination's
	// RESUME, QEMU's downtime if longer.
	PauseMS       Stat `json:"pause_ms"`
	RemoteFaults  Stat `json:"remote_faults"`
	InjectedPages Stat `json:"injected_pages"` // pages the agent asked for first
	// RecoveryMS is verify's recovery time of the runs that measured one
	// (Measured); Recovered of them got back to the rate before the
	// traffic ended (the others' time runs to its end).
	RecoveryMS Stat `json:"recovery_ms"`
	Measured   int  `json:"recovery_measured"`
	Recovered  int  `json:"recovered"`
	Lost       Stat `json:"lost"`
	// Split sorts the remote faults by what the working set knew of them
	// (medians of the runs with a prefetch account; nil: none).
	Split      *api.PrefetchFaults `json:"remote_faults_split,omitempty"`
	Duplicated int                 `json:"duplicated"` // over all runs
	Reordered  int                 `json:"reordered"`
	// Medians over the baseline's (nil without one in the run).
	RecoveryRatio *float64 `json:"recovery_ratio,omitempty"`
	FaultsRatio   *float64 `json:"remote_faults_ratio,omitempty"`
}

// summarisePostcopy makes the post-copy rows of rows (summarise's, of
// runs): every method that went through post-copy or is one of
// postcopyMethods, with ratios over base's row of the same guest.
func summarisePostcopy(rows []Row, runs []Run, base string) []PostcopyRow {
	var out []PostcopyRow
	for _, row := range rows {
		var pc PostcopyRow
		var faults, pages, rec []float64
		var split [4][]float64
		for _, r := range runs {
			if r.Guest != row.Guest || r.Method != row.Method {
				continue
			}
			if p := r.Postcopy; p != nil {
				pc.Postcopy++
				faults = append(faults, float64(p.RemoteFaults))
				var n int64
				if p.Prefetch != nil {
					n = p.Prefetch.Pages
					if f := p.Prefetch.Faults; f != nil {
						for i, v := range []int64{f.Before, f.Asked, f.Ahead, f.Outside} {
							split[i] = append(split[i], float64(v))
						}
					}
				}
				pages = append(pages, float64(n))
			}
			if t := r.Traffic; t != nil && t.Recovery != nil {
				pc.Measured++
				rec = append(rec, float64(t.Recovery.Time)/float64(time.Millisecond))
				if t.Recovery.Recovered {
					pc.Recovered++
				}
			}
		}
		if pc.Postcopy == 0 && !slices.Contains(postcopyMethods, row.Method) {
			continue
		}
		pc.Guest, pc.Method, pc.Runs, pc.TotalMS, pc.PauseMS = row.Guest, row.Method, row.Runs, row.TotalMS, row.DowntimeM
		pc.RemoteFaults, pc.InjectedPages, pc.RecoveryMS = stat(faults), stat(pages), stat(rec)
		if len(split[0]) > 0 {
			med := func(v []float64) int64 { return int64(stat(v).Median) }
			pc.Split = &api.PrefetchFaults{Before: med(split[0]), Asked: med(split[1]), Ahead: med(split[2]), Outside: med(split[3])}
		}
		if t := row.Traffic; t != nil {
			pc.Lost, pc.Duplicated, pc.Reordered = t.Lost, t.Duplicated, t.Reordered
		}
		out = append(out, pc)
	}
	for i := range out {
		j := slices.IndexFunc(out, func(b PostcopyRow) bool { return b.Guest == out[i].Guest && b.Method == base })
		if j < 0 {
			continue
		}
		b := out[j]
		if b.Measured > 0 && b.RecoveryMS.Median > 0 && out[i].Measured > 0 {
			v := out[i].RecoveryMS.Median / b.RecoveryMS.Median
			out[i].RecoveryRatio = &v
		}
		if b.Postcopy > 0 && b.RemoteFaults.Median > 0 && out[i].Postcopy > 0 {
			v := out[i].RemoteFaults.Median / b.RemoteFaults.Median
			out[i].FaultsRatio = &v
		}
	}
	return out
}
