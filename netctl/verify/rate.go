package verify

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

const minBin = 10 * time.Millisecond

// ratePlot plots replies per bin (by arrival time, blue) with the packets
// lost per bin (by send time, red) stacked on top, in packets/s, and
// outlines the zoom window. It returns the plot and its title.
func (t *timeline) ratePlot(zoom [2]float64, xlabel string) (*plot.Plot, string) {
	bin := binFor(t.tmax - t.tmin)
	bs := bin.Seconds()
	nb := int(math.Ceil((t.tmax-t.tmin)/bs)) + 1
	got, lost := make([]int, nb), make([]int, nb)
	idx := func(x float64) int { return min(max(int((x-t.tmin)/bs), 0), nb-1) }
	for _, s := range t.samples {
		if s.Lost() {
			lost[idx(t.sec(s.Sent))]++
		} else {
			got[idx(t.sec(s.Received))]++
		}
	}
	peak := t.rate
	for i := range got {
		peak = max(peak, float64(got[i]+lost[i])/bs)
	}
	v1 := niceCeil(peak * 1.15)
	p := t.newPlot(t.tmin, t.tmax, v1, "replies (packets/s)", xlabel)
	// Replies as one stepped area; losses as bars on top.
	area := plotter.XYs{{X: t.tmin, Y: 0}}
	bars := &bands{fill: colLost, minW: 1, snap: true}
	for i := range got {
		x0, x1 := t.tmin+float64(i)*bs, min(t.tmin+float64(i+1)*bs, t.tmax)
		g, l := float64(got[i])/bs, float64(lost[i])/bs
		area = append(area, plotter.XY{X: x0, Y: g}, plotter.XY{X: x1, Y: g})
		if lost[i] > 0 {
			bars.bs = append(bars.bs, band{x0, x1, g, g + l})
		}
	}
	area = append(area, plotter.XY{X: area[len(area)-1].X, Y: 0})
	poly, _ := plotter.NewPolygon(area) // only fails on NaN or Inf
	poly.Color, poly.LineStyle = colBar, draw.LineStyle{}
	p.Add(noPad{poly}, bars)
	if t.rate > 0 {
		sent := &plotter.Line{XYs: plotter.XYs{{X: t.tmin, Y: t.rate}, {X: t.tmax, Y: t.rate}}, LineStyle: line(1.2, colText)}
		sent.Dashes = []vg.Length{6, 6}
		p.Add(noPad{sent}, label(t.tmin, t.rate, fmt.Sprintf("sent %.0f pps", t.rate), vg.Point{X: 8, Y: 6}, draw.XLeft))
	}
	if rec := t.r.Recovery; rec != nil && rec.Time > 0 && !t.m.ResumedAt.IsZero() {
		// The VNF's recovery: from its resume at the destination until it
		// reflected at its rate again, outlined along the bottom.
		x0 := t.sec(t.m.ResumedAt)
		x1 := x0 + time.Duration(rec.Time).Seconds()
		p.Add(&bands{bs: []band{{x0, min(x1, t.tmax), 0, v1 * 0.04}}, fill: colRecovery, minW: minBandW},
			label(x1, v1*0.04, "recovery "+fmtMS(rec.Time), vg.Point{X: 4, Y: 2}, draw.XLeft))
	}
	if zoom[0] > t.tmin || zoom[1] < t.tmax {
		z := band{max(zoom[0], t.tmin), min(zoom[1], t.tmax), math.Inf(-1), math.Inf(1)}
		p.Add(&bands{bs: []band{z}, edge: line(1.2, colText), minW: minBandW},
			label((z.x0+z.x1)/2, v1, "zoom", vg.Point{Y: -15}, draw.XCenter))
	}
	p.Add(frame())
	return p, fmt.Sprintf("Replies per %v bin (blue, by arrival time) and lost packets (red, by send time)", bin)
}

// label is one line of 12-point text at (x, y) plus off.
func label(x, y float64, s string, off vg.Point, align draw.XAlignment) plot.Plotter {
	st := txt(12, colText, false)
	st.XAlign = align
	l := &plotter.Labels{XYs: plotter.XYs{{X: x, Y: y}}, Labels: []string{s}, TextStyle: []draw.TextStyle{st}, Offset: off}
	return noPad{l}
}

// binFor picks the bin: 10ms, or wider so that a bin is at least a point
// of the about 1280 points wide plot.
func binFor(span float64) time.Duration {
	perPt := time.Duration(span / tlPlotW * float64(time.Second))
	for _, b := range []time.Duration{minBin, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		if b >= perPt {
			return b
		}
	}
	return time.Duration(niceCeil(perPt.Seconds()) * float64(time.Second))
}

// frame outlines the data area.
func frame() *bands {
	return &bands{bs: []band{fullHeight(math.Inf(-1), math.Inf(1))}, edge: line(1, colFrame)}
}
