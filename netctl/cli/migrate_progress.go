package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// barWidth is the number of cells of the progress bar.
const barWidth = 20

// progressFields are virsh domjobinfo's fields for m: percent,
// transferred/total, rate, dirty rate, pass, expected downtime and ETA.
// Fields QEMU has not reported yet are left out. withCap adds the current
// bandwidth cap to the rate.
func progressFields(m api.Migration, withCap bool) []string {
	p := m.Progress
	if p.Total == 0 {
		return nil
	}
	rate := "rate " + fmtRate(p.Rate)
	if withCap && p.Bandwidth > 0 {
		rate += " (cap " + fmtRate(p.Bandwidth) + ")"
	}
	f := []string{
		fmt.Sprintf("%.0f%%", p.Percent),
		fmtOf(p.Transferred, p.Total),
		rate,
		"dirty " + fmtRate(p.DirtyRate),
		fmt.Sprintf("pass %d", p.Pass),
	}
	if p.ExpectedDowntime > 0 {
		f = append(f, "downtime "+fmtDuration(time.Duration(p.ExpectedDowntime)))
	}
	if p.ETA > 0 && !api.Ended(m.State) {
		f = append(f, "ETA "+fmtDuration(time.Duration(p.ETA)))
	}
	return f
}

// progressLine is one line of the log printed off a terminal.
func progressLine(m api.Migration) string {
	s := stateLine(m)
	if f := progressFields(m, true); len(f) > 0 && !api.Ended(m.State) {
		s += ": " + strings.Join(f, ", ")
	}
	if h := handoffShort(m.Handoff); h != "" && !api.Ended(m.State) {
		s += "; " + h
	}
	return s
}

// progressBar is the line drawn on a terminal: state, bar and fields,
// shortened to width by leaving out the least useful parts first (the bar,
// then extra, expected downtime, pass, dirty rate, amounts).
func progressBar(m api.Migration, width int, extra string) string {
	p := m.Progress
	if p.Total == 0 {
		return stateLine(m) + " ..." + extra
	}
	type seg struct {
		text string
		prio int // the lowest goes first
	}
	segs := []seg{
		{headState(m), 10},
		{bar(p.Percent), 1},
		{fmt.Sprintf("%.0f%%", p.Percent), 9},
		{fmtOf(p.Transferred, p.Total), 5},
		{fmtRate(p.Rate), 7},
		{"dirty " + fmtRate(p.DirtyRate), 5},
		{fmt.Sprintf("pass %d", p.Pass), 4},
	}
	if p.ExpectedDowntime > 0 {
		segs = append(segs, seg{"downtime " + fmtDuration(time.Duration(p.ExpectedDowntime)), 3})
	}
	if p.ETA > 0 && !api.Ended(m.State) {
		segs = append(segs, seg{"ETA " + fmtDuration(time.Duration(p.ETA)), 8})
	}
	if h := handoffShort(m.Handoff); h != "" && !api.Ended(m.State) {
		segs = append(segs, seg{h, 6})
	}
	if extra = strings.TrimSpace(extra); extra != "" {
		segs = append(segs, seg{extra, 2})
	}
	for {
		texts := make([]string, len(segs))
		for i, s := range segs {
			texts[i] = s.text
		}
		line := strings.Join(texts, "  ")
		if len([]rune(line)) <= width || len(segs) == 1 {
			return line
		}
		drop := 0
		for i, s := range segs {
			if s.prio < segs[drop].prio {
				drop = i
			}
		}
		segs = append(segs[:drop], segs[drop+1:]...)
	}
}

// headState is the state, with the phase when it says more than the state.
func headState(m api.Migration) string {
	ph := currentPhase(m)
	if ph != "" && ph != m.State && !api.Ended(m.State) && !(ph == "precopy" && m.State == api.MigrationActive) {
		return m.State + "/" + ph
	}
	return m.State
}

// fmtOf prints "76.8/256.0 MiB", or "812 B/1.0 GiB" when the units differ.
func fmtOf(n, total uint64) string {
	a, b := fmtBytes(n), fmtBytes(total)
	if i, j := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' '); a[i:] == b[j:] {
		return a[:i] + "/" + b
	}
	return a + "/" + b
}

// bar draws percent (0..100) as barWidth cells.
func bar(percent float64) string {
	n := int(percent/100*barWidth + 0.5)
	n = min(max(n, 0), barWidth)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", barWidth-n) + "]"
}
