package verify

import (
	"math"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// phaseLabels writes each phase's name and length above the top panel
// with a leader line to its band. Labels go left to right in one row,
// pushed right past the previous label; one pushed too far (or off the
// edge) moves up a row instead.
func (t *timeline) phaseLabels(c canvas, p panel, y float64) {
	const rows, gap, maxShift = 3, 10.0, 160.0
	var rowEnd [rows]float64
	for i := range rowEnd {
		rowEnd[i] = math.Inf(-1)
	}
	for _, ph := range t.m.Phases {
		x0, x1, ok := t.band(p, ph.Start, ph.End)
		if !ok {
			continue
		}
		_, col := phaseColor(ph.Name)
		st := textStyle{size: 14, c: col, bold: true, anchor: anchorMiddle}
		s := ph.Name
		if !ph.End.IsZero() {
			s += " " + fmtMS(api.Duration(ph.End.Sub(ph.Start)))
		}
		w := c.textWidth(s, st)
		mid := (x0 + x1) / 2
		want := min(max(mid, p.x+w/2), p.x+p.w-w/2)
		row, cx := 0, want
		for ; row < rows; row++ {
			cx = max(want, rowEnd[row]+gap+w/2)
			if cx-want <= maxShift && cx+w/2 <= p.x+p.w {
				break
			}
		}
		if row == rows { // crowded: overlap in the bottom row
			row, cx = 0, want
		}
		rowEnd[row] = cx + w/2
		ly := y - float64(row)*17
		c.text(cx, ly, s, st)
		c.line(cx, ly+3, mid, p.y, 1, col)
	}
}

// band maps [from, to] to pixels in p, at least minBandW wide; ok is false
// when it lies outside.
func (t *timeline) band(p panel, from, to time.Time) (x0, x1 float64, ok bool) {
	a := t.sec(from)
	b := p.t1
	if !to.IsZero() {
		b = t.sec(to)
	}
	if b < p.t0 || a > p.t1 {
		return 0, 0, false
	}
	x0, x1 = p.px(max(a, p.t0)), p.px(min(b, p.t1))
	if x1-x0 < minBandW {
		m := (x0 + x1) / 2
		x0, x1 = m-minBandW/2, m+minBandW/2
	}
	return x0, x1, true
}

// backdrop shades the phases and the largest gap behind a panel's data.
func (t *timeline) backdrop(c canvas, p panel) {
	c.rect(p.x, p.y, p.w, p.h, rgba(255, 255, 255, 255))
	for _, ph := range t.m.Phases {
		if x0, x1, ok := t.band(p, ph.Start, ph.End); ok {
			fill, _ := phaseColor(ph.Name)
			c.rect(x0, p.y, x1-x0, p.h, fill)
		}
	}
	t.bufferStrip(c, p)
	if t.r.GapLost > 0 {
		if x0, x1, ok := t.band(p, t.r.GapStart, t.r.GapEnd); ok {
			c.rect(x0, p.y, x1-x0, p.h, colGapFill)
			c.line(x0, p.y, x0, p.y+p.h, 1.2, colLost)
			c.line(x1, p.y, x1, p.y+p.h, 1.2, colLost)
		}
	}
}
