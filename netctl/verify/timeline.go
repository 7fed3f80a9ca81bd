package verify

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Picture size in points, drawn at 72 dpi: one point is one PNG pixel.
const (
	tlW, tlH = 1400, 985
	tlLeft   = 20 // the y labels sit inside the plots' canvases
	tlRight  = 30
	tlPlotW  = tlW - 90 - tlRight // about the width of the data areas
)

// tlSlots are the three plots' canvases (axes included), in points from
// the top: RTT, replies per bin, zoom. Titles go just above them.
var tlSlots = [3][2]vg.Length{{145, 472}, {500, 720}, {765, 978}}

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
	c := vgimg.NewWith(vgimg.UseWH(tlW, tlH), vgimg.UseDPI(72))
	t.draw(draw.New(c))
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// writeSVG writes the picture as SVG, its text in Liberation Sans or else
// a font with the same widths (Arial, Helvetica): vgsvg names only the
// one family and does not embed it (embedding would add a megabyte). The
// size is in pixels, as the PNG's, where vgsvg says points.
func (t *timeline) writeSVG(w io.Writer) error {
	c := vgsvg.New(tlW, tlH)
	t.draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return err
	}
	out := bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	size := fmt.Sprintf(`width="%dpt" height="%dpt"`, tlW, tlH)
	out = bytes.Replace(out, []byte(size), []byte(strings.ReplaceAll(size, "pt", "")), 1)
	_, err := w.Write(out)
	return err
}

// draw lays out the header, the phase labels and three plots with their
// data areas lined up: RTT of every reply, replies per bin, and a zoom on
// the largest gap.
func (t *timeline) draw(dc draw.Canvas) {
	const xlab = "time since the first test packet (s)"
	zoom, ztitle := t.zoomWindow()
	rate, rtitle := t.ratePlot(zoom, xlab)
	ps := []*plot.Plot{t.rttPlot(t.tmin, t.tmax, "round-trip time (ms)", "", true), rate,
		t.rttPlot(zoom[0], zoom[1], "RTT (ms)", xlab, false)}
	cs := make([]draw.Canvas, len(ps))
	for i, s := range tlSlots {
		cs[i] = draw.Crop(dc, tlLeft, -tlRight, tlH-s[1], -s[0])
	}
	alignX(ps, cs)
	data := make([]draw.Canvas, len(ps))
	for i, p := range ps {
		p.Draw(cs[i])
		data[i] = p.DataCanvas(cs[i])
	}
	t.header(dc, data[0].Min.X)
	t.phaseLabels(dc, ps[0], data[0])
	dc.FillText(txt(13, colMuted, false), vg.Point{X: data[1].Min.X, Y: data[1].Max.Y + 7}, rtitle)
	dc.FillText(txt(15, colText, true), vg.Point{X: data[2].Min.X, Y: data[2].Max.Y + 10}, ztitle)
}

// alignX crops each plot's canvas so that all data areas share their left
// and right edges whatever the width of each plot's y tick labels (as
// plot.Align does for a grid of equal tiles; these plots differ in height).
func alignX(ps []*plot.Plot, cs []draw.Canvas) {
	var left, right vg.Length
	for i, p := range ps {
		d := p.DataCanvas(cs[i])
		left, right = max(left, d.Min.X-cs[i].Min.X), max(right, cs[i].Max.X-d.Max.X)
	}
	for i, p := range ps {
		d := p.DataCanvas(cs[i])
		cs[i] = draw.Crop(cs[i], left-(d.Min.X-cs[i].Min.X), (cs[i].Max.X-d.Max.X)-right, 0, 0)
	}
}

// newPlot is a plot of [x0, x1] by [0, y1] with the picture's axes, a
// horizontal grid and the phases behind.
func (t *timeline) newPlot(x0, x1, y1 float64, ylabel, xlabel string) *plot.Plot {
	p := plot.New()
	styleAxes(p, ylabel, xlabel)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, 0, y1
	t.backdrop(p)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal = nil, line(1, colGrid)
	p.Add(g)
	return p
}
