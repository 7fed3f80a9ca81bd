package verify

import (
	"fmt"
	"time"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// header writes the verdict (green or red) and up to three lines about
// the migration, the test traffic and the hand-off at the top, from x.
func (t *timeline) header(c draw.Canvas, x vg.Length) {
	col := colLost
	if t.r.Pass {
		col = colPass
	}
	verdict := t.r.Verdict
	if verdict == "" {
		verdict = "no verdict"
	}
	top := c.Max.Y
	c.FillText(txt(24, col, true), vg.Point{X: x, Y: top - 34}, verdict)
	for i, s := range t.headerLines() {
		c.FillText(txt(15, colText, false), vg.Point{X: x, Y: top - 60 - vg.Length(i)*20}, s)
	}
}

func (t *timeline) headerLines() []string {
	m, r := t.m, t.r
	var lines []string
	if m.ID != "" {
		s := fmt.Sprintf("migration %s: %s %s → %s, %s", m.ID, m.VM, m.From, m.To, m.State)
		if m.TotalTime > 0 {
			s += ", total " + time.Duration(m.TotalTime).Round(time.Millisecond).String()
		}
		if m.QEMUDowntime > 0 {
			s += ", QEMU downtime " + fmtMS(m.QEMUDowntime)
		}
		if m.Paused > 0 {
			s += ", guest paused " + fmtMS(m.Paused)
		}
		if m.Postcopy {
			s += ", post-copy"
		}
		if rec := r.Recovery; rec != nil {
			s += ", " + rec.String()
		}
		lines = append(lines, s)
	}
	cont := "continuous"
	if !r.ReflectorSeqContinuous {
		cont = fmt.Sprintf("BROKEN (%d jumps)", r.ReflectorSeqJumps)
	}
	lines = append(lines, fmt.Sprintf("%d packets at %.0f pps: %d lost, %d duplicated, %d reordered; RTT p50 %s p99 %s; reflector seq %d..%d %s",
		r.Sent, t.rate, r.Lost, r.Duplicated, r.Reordered, fmtMS(r.LatencyP50), fmtMS(r.LatencyP99), r.ReflectorSeqFirst, r.ReflectorSeqLast, cont))
	if s := t.handoffLine(); s != "" {
		lines = append(lines, s)
	}
	return lines
}

// zoomWindow is the time span of the zoom panel and its title: the
// largest gap, or else the switchover, with margins of at least 200ms.
func (t *timeline) zoomWindow() ([2]float64, string) {
	around := func(from, to time.Time) [2]float64 {
		a, b := t.sec(from), t.sec(to)
		pad := max(b-a, 0.2)
		return [2]float64{a - pad, b + pad}
	}
	if t.r.GapLost > 0 {
		return around(t.r.GapStart, t.r.GapEnd), fmt.Sprintf("Zoom on the largest gap (%s, %d lost): every dot is a reply, every red mark a lost packet", fmtMS(t.r.LargestGap), t.r.GapLost)
	}
	for _, ph := range t.m.Phases {
		if ph.Name == "switchover" && !ph.End.IsZero() {
			return around(ph.Start, ph.End), fmt.Sprintf("Zoom on the switchover (%s): every dot is a reply", fmtMS(api.Duration(ph.End.Sub(ph.Start))))
		}
	}
	return [2]float64{t.tmin, t.tmax}, "Every dot is a reply"
}
