package verify

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
)

// rttPlot plots the RTT of every reply sent in [x0, x1] at its send time,
// lost packets as red marks on the x axis; replies beyond the y range
// sit on the top edge in orange. legend adds the legend (top plot only).
func (t *timeline) rttPlot(x0, x1 float64, ylabel, xlabel string, legend bool) *plot.Plot {
	var maxMS float64
	var in []Sample
	for _, s := range t.samples {
		if x := t.sec(s.Sent); x >= x0 && x <= x1 {
			in = append(in, s)
			if !s.Lost() {
				maxMS = max(maxMS, ms(s.RTT))
			}
		}
	}
	v1 := niceCeil(maxMS * 1.1)
	if p99 := ms(time.Duration(t.r.LatencyP99)); maxMS > 5*p99 && p99 > 0 {
		v1 = niceCeil(p99 * 3) // a few outliers would flatten the rest
	}
	p := t.newPlot(x0, x1, v1, ylabel, xlabel)
	// One dot per half point of a 1280x300 area is all a reader can see,
	// and keeps a 60s run at 5000 pps from writing 300000 SVG circles.
	qx, qy := (x1-x0)/2560, v1/600
	seen := map[[2]int]bool{}
	var replies, clipped plotter.XYs
	nClipped := 0
	lost := &bands{fill: colLost, minW: 1.5, height: 14}
	for _, s := range in {
		x := t.sec(s.Sent)
		if s.Lost() {
			lost.bs = append(lost.bs, fullHeight(x, x))
			continue
		}
		v, to := ms(s.RTT), &replies
		if v > v1 {
			v, to = v1, &clipped
			nClipped++
		}
		if k := [2]int{int(math.Floor(x / qx)), int(v / qy)}; !seen[k] {
			seen[k] = true
			*to = append(*to, plotter.XY{X: x, Y: v})
		}
	}
	shown, over := dots(replies, colReply), dots(clipped, colClip)
	p.Add(noPad{shown}, noPad{over}, lost, frame())
	if legend {
		l := newBoxedLegend()
		l.Add("reply: RTT at send time", legendDot(colReply))
		l.Add(fmt.Sprintf("lost packet (%d)", len(lost.bs)), lost)
		if nClipped > 0 {
			l.Add(fmt.Sprintf("%d replies above %.4g ms", nClipped, v1), legendDot(colClip))
		}
		if g := t.gapBands(); g != nil {
			l.Add("largest gap "+fmtMS(t.r.LargestGap)+" in "+t.r.GapPhase, g)
		}
		p.Add(l)
	}
	return p
}

// dots is a scatter of filled circles.
func dots(xys plotter.XYs, c color.Color) *plotter.Scatter {
	s, _ := plotter.NewScatter(xys) // only fails on NaN or Inf
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: 1.8, Shape: draw.CircleGlyph{}}
	return s
}

// legendDot is a dot big enough to tell its colour in the legend.
func legendDot(c color.Color) *plotter.Scatter {
	s := dots(nil, c)
	s.GlyphStyle.Radius = 3
	return s
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }
