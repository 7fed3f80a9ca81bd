package verify

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Picture size.
const (
	tlW      = 1400
	tlH      = 985
	tlLeft   = 90
	tlRight  = 30
	tlPlotW  = tlW - tlLeft - tlRight
	minBin   = 10 * time.Millisecond
	minBandW = 3.0 // pixels: the narrowest phase or gap still shows
)

var (
	colText    = rgba(33, 33, 33, 255)
	colMuted   = rgba(110, 110, 110, 255)
	colGrid    = rgba(225, 225, 225, 255)
	colFrame   = rgba(120, 120, 120, 255)
	colReply   = rgba(25, 100, 210, 190)
	colBar     = rgba(66, 133, 244, 255)
	colLost    = rgba(211, 47, 47, 255)
	colGapFill = rgba(229, 57, 53, 40)
	colClip    = rgba(245, 124, 0, 255)
	colPass    = rgba(27, 128, 54, 255)
)

// phaseColors: shading and label colour per phase name.
var phaseColors = map[string][2]color.RGBA{
	"setup":      {rgba(150, 150, 150, 45), rgba(90, 90, 90, 255)},
	"precopy":    {rgba(66, 133, 244, 38), rgba(25, 90, 200, 255)},
	"postcopy":   {rgba(156, 39, 176, 45), rgba(120, 30, 140, 255)},
	"switchover": {rgba(255, 152, 0, 90), rgba(200, 100, 0, 255)},
	"cleanup":    {rgba(76, 175, 80, 45), rgba(40, 120, 40, 255)},
}

func phaseColor(name string) (fill, label color.RGBA) {
	if c, ok := phaseColors[name]; ok {
		return c[0], c[1]
	}
	return rgba(120, 120, 120, 35), colMuted
}

// timeline is the picture of one verification run; times on its x axes
// are seconds since the first test packet was sent.
type timeline struct {
	m          api.Migration
	r          Report
	samples    []Sample // by sequence number
	t0         time.Time
	tmin, tmax float64
	rate       float64 // packets/s sent
}

func newTimeline(m api.Migration, r Report, samples []Sample) *timeline {
	t := &timeline{m: m, r: r, samples: slices.SortedFunc(slices.Values(samples), func(a, b Sample) int { return cmp.Compare(a.Seq, b.Seq) })}
	if len(t.samples) == 0 {
		t.tmax = 1
		return t
	}
	t.t0 = t.samples[0].Sent
	last := t.sec(t.samples[len(t.samples)-1].Sent)
	for _, s := range t.samples {
		if !s.Lost() {
			last = max(last, t.sec(s.Received))
		}
	}
	span := max(last, 0.001)
	t.tmax = last
	if len(t.samples) > 1 {
		t.rate = float64(len(t.samples)-1) / t.sec(t.samples[len(t.samples)-1].Sent)
	}
	for _, p := range m.Phases { // show phases around the traffic, within reason
		t.tmin = max(min(t.tmin, t.sec(p.Start)), -span/2)
		if !p.End.IsZero() {
			t.tmax = min(max(t.tmax, t.sec(p.End)), last+span/2)
		}
	}
	pad := (t.tmax - t.tmin) * 0.01
	t.tmin, t.tmax = t.tmin-pad, t.tmax+pad
	return t
}

func (t *timeline) sec(x time.Time) float64 { return x.Sub(t.t0).Seconds() }

func (t *timeline) writePNG(w io.Writer) error {
	c, err := newPNGCanvas(tlW, tlH)
	if err != nil {
		return fmt.Errorf("loading fonts: %w", err)
	}
	t.draw(c)
	return png.Encode(w, c.img)
}

func (t *timeline) writeSVG(w io.Writer) error {
	c := newSVGCanvas(tlW, tlH)
	t.draw(c)
	_, err := io.Copy(w, bytes.NewReader(c.bytes()))
	return err
}

// draw lays out the title, the phase labels and three panels: RTT of every
// reply, replies per bin, and a zoom on the largest gap.
func (t *timeline) draw(c canvas) {
	t.header(c)
	top := panel{x: tlLeft, y: 150, w: tlPlotW, h: 300, t0: t.tmin, t1: t.tmax}
	t.phaseLabels(c, top, 138)
	t.rttPanel(c, top, "round-trip time (ms)", true)
	rate := panel{x: tlLeft, y: 505, w: tlPlotW, h: 170, t0: t.tmin, t1: t.tmax}
	zoom, ztitle := t.zoomWindow()
	t.ratePanel(c, rate, zoom)
	xlab := "time since the first test packet (s)"
	axisX(c, top, "")
	axisX(c, rate, xlab)
	zp := panel{x: tlLeft, y: 770, w: tlPlotW, h: 160, t0: zoom[0], t1: zoom[1]}
	c.text(tlLeft, zp.y-10, ztitle, textStyle{size: 15, c: colText, bold: true})
	t.rttPanel(c, zp, "RTT (ms)", false)
	axisX(c, zp, xlab)
}

func (t *timeline) header(c canvas) {
	col := colLost
	if t.r.Pass {
		col = colPass
	}
	verdict := t.r.Verdict
	if verdict == "" {
		verdict = "no verdict"
	}
	c.text(tlLeft, 34, verdict, textStyle{size: 24, c: col, bold: true})
	m := t.m
	var parts []string
	if m.ID != "" {
		line := fmt.Sprintf("migration %s: %s %s → %s, %s", m.ID, m.VM, m.From, m.To, m.State)
		if m.TotalTime > 0 {
			line += ", total " + time.Duration(m.TotalTime).Round(time.Millisecond).String()
		}
		if m.QEMUDowntime > 0 {
			line += ", QEMU downtime " + fmtMS(m.QEMUDowntime)
		}
		if m.Paused > 0 {
			line += ", guest paused " + fmtMS(m.Paused)
		}
		if m.Postcopy {
			line += ", post-copy"
		}
		parts = append(parts, line)
	}
	r := t.r
	cont := "continuous"
	if !r.ReflectorSeqContinuous {
		cont = fmt.Sprintf("BROKEN (%d jumps)", r.ReflectorSeqJumps)
	}
	parts = append(parts, fmt.Sprintf("%d packets at %.0f pps: %d lost, %d duplicated, %d reordered; RTT p50 %s p99 %s; reflector seq %d..%d %s",
		r.Sent, t.rate, r.Lost, r.Duplicated, r.Reordered, fmtMS(r.LatencyP50), fmtMS(r.LatencyP99), r.ReflectorSeqFirst, r.ReflectorSeqLast, cont))
	if s := t.handoffLine(); s != "" {
		parts = append(parts, s)
	}
	for i, p := range parts {
		c.text(tlLeft, 60+float64(i)*20, p, textStyle{size: 15, c: colText})
	}
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
