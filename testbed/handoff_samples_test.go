package testbed

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// badSamples describes, from the --report directory's report.json, the
// test packets that were lost, duplicated or answered out of order: their
// sequence number, when they were sent relative to the migration's start
// and in which phase, for a failure message.
func badSamples(r verified) string {
	if r.Report == "" {
		return ""
	}
	raw, err := os.ReadFile(filepath.Join(r.Report, "report.json"))
	if err != nil {
		return fmt.Sprintf("(no report.json: %v)", err)
	}
	var rep struct {
		Samples struct {
			T0      time.Time `json:"t0"`
			Columns []string  `json:"columns"`
			Rows    [][]int64 `json:"rows"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Sprintf("(report.json: %v)", err)
	}
	col := map[string]int{}
	for i, c := range rep.Samples.Columns {
		col[c] = i
	}
	get := func(row []int64, name string) int64 {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return -1
	}
	var out []string
	lastArrival := int64(-1)
	for _, row := range rep.Samples.Rows {
		copies, arrival := get(row, "copies"), get(row, "arrival")
		what := ""
		switch {
		case copies == 0:
			what = "lost"
		case copies > 1:
			what = fmt.Sprintf("%d copies", copies)
		case arrival < lastArrival:
			what = fmt.Sprintf("arrived %d, after %d", arrival, lastArrival)
		}
		if arrival > lastArrival {
			lastArrival = arrival
		}
		if what == "" {
			continue
		}
		sent := rep.Samples.T0.Add(time.Duration(get(row, "sent_ns")))
		out = append(out, fmt.Sprintf("seq %d %s: sent %v after the migration started, in %s",
			get(row, "seq"), what, sent.Sub(r.M.Started).Round(time.Millisecond), phaseOf(r.M.Phases, sent)))
		if len(out) == 20 {
			out = append(out, "...")
			break
		}
	}
	return strings.Join(out, "\n")
}

// phaseOf names the phase at, with how far into it and before its end.
func phaseOf(phases []api.Phase, at time.Time) string {
	for _, p := range phases {
		if !at.Before(p.Start) && at.Before(p.End) {
			return fmt.Sprintf("%s (+%v, %v before its end)", p.Name, at.Sub(p.Start).Round(time.Millisecond), p.End.Sub(at).Round(time.Millisecond))
		}
	}
	return "no phase"
}
