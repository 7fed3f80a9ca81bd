package verify

import (
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// minBandW is the narrowest phase or gap still shown (points).
const minBandW = 3

// span is [from, to] in seconds; a zero to runs to the right edge.
func (t *timeline) span(from, to time.Time) band {
	b := fullHeight(t.sec(from), math.Inf(1))
	if !to.IsZero() {
		b.x1 = t.sec(to)
	}
	return b
}

// backdrop adds what lies behind a plot's data: each phase shaded in its
// colour, the BUFFER strip along the bottom, and the largest gap.
func (t *timeline) backdrop(p *plot.Plot) {
	for _, ph := range t.m.Phases {
		fill, _ := phaseColor(ph.Name)
		p.Add(&bands{bs: []band{t.span(ph.Start, ph.End)}, fill: fill, minW: minBandW})
	}
	if from, to, ok := t.bufferSpan(); ok {
		p.Add(&bands{bs: []band{t.span(from, to)}, fill: colBuffer, minW: minBandW, height: 6})
	}
	if g := t.gapBands(); g != nil {
		p.Add(g)
	}
}

// gapBands is the largest gap shaded red between red edges; nil without.
func (t *timeline) gapBands() *bands {
	if t.r.GapLost == 0 {
		return nil
	}
	return &bands{bs: []band{t.span(t.r.GapStart, t.r.GapEnd)}, fill: colGapFill, edge: line(1.2, colLost), minW: minBandW}
}

// phaseLabels writes each phase's name and length above the data area d
// of plot p, with a leader line to its band. Labels go left to right in
// one row, pushed right past the previous label; one pushed too far (or
// off the edge) moves up a row instead.
func (t *timeline) phaseLabels(c draw.Canvas, p *plot.Plot, d draw.Canvas) {
	const rows, gap, maxShift = 3, 10, 160
	trX, _ := p.Transforms(&d)
	var rowEnd [rows]vg.Length
	for i := range rowEnd {
		rowEnd[i] = vg.Length(math.Inf(-1))
	}
	for _, ph := range t.m.Phases {
		b := t.span(ph.Start, ph.End)
		x0, x1 := max(trX(b.x0), d.Min.X), min(trX(b.x1), d.Max.X)
		if x1 < x0 {
			continue // outside the plot
		}
		_, col := phaseColor(ph.Name)
		st := txt(14, col, true)
		st.XAlign = draw.XCenter
		s := ph.Name
		if !ph.End.IsZero() {
			s += " " + fmtMS(api.Duration(ph.End.Sub(ph.Start)))
		}
		w := st.Width(s)
		mid := (x0 + x1) / 2
		want := min(max(mid, d.Min.X+w/2), d.Max.X-w/2)
		row, cx := 0, want
		for ; row < rows; row++ {
			cx = max(want, rowEnd[row]+gap+w/2)
			if cx-want <= maxShift && cx+w/2 <= d.Max.X {
				break
			}
		}
		if row == rows { // crowded: overlap in the bottom row
			row, cx = 0, want
		}
		rowEnd[row] = cx + w/2
		y := d.Max.Y + 12 + vg.Length(row)*17
		c.FillText(st, vg.Point{X: cx, Y: y}, s)
		c.StrokeLine2(line(1, col), cx, y-3, mid, d.Max.Y)
	}
}
