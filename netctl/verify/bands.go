package verify

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// band is a rectangle in data coordinates; an infinite bound stands for
// the plot's edge (a phase that has not ended runs to the right edge).
type band struct{ x0, x1, y0, y1 float64 }

// fullHeight is the band from x0 to x1 over the plot's whole height.
func fullHeight(x0, x1 float64) band { return band{x0, x1, math.Inf(-1), math.Inf(1)} }

// bands is a plotter of rectangles sharing one style: the phase shading,
// the largest gap, the BUFFER strip, lost-packet marks and loss bars,
// the zoom window and the frame. gonum/plot has no span plotter.
type bands struct {
	bs     []band
	fill   color.Color    // nil: not filled
	edge   draw.LineStyle // zero width: no outline
	minW   vg.Length      // a narrower band is widened to this, centred
	height vg.Length      // > 0: a strip this tall along the bottom edge
	snap   bool           // widen to whole points: adjacent bars show no seams
}

// Plot draws the bands clipped to the data area, skipping one that
// covers the same half points as the one before (a run of lost packets
// at 5000 pps would otherwise repeat one mark thousands of times).
func (b *bands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var last vg.Rectangle
	for _, bd := range b.bs {
		x0, x1 := trX(bd.x0), trX(bd.x1)
		if x1 < c.Min.X || x0 > c.Max.X {
			continue
		}
		x0, x1 = max(x0, c.Min.X), min(x1, c.Max.X)
		if x1-x0 < b.minW {
			m := (x0 + x1) / 2
			x0, x1 = m-b.minW/2, m+b.minW/2
		}
		if b.snap {
			x0, x1 = vg.Length(math.Floor(float64(x0))), vg.Length(math.Ceil(float64(x1)))
		}
		y0, y1 := max(trY(bd.y0), c.Min.Y), min(trY(bd.y1), c.Max.Y)
		if b.height > 0 {
			y0, y1 = c.Min.Y, c.Min.Y+b.height
		}
		r := vg.Rectangle{Min: vg.Point{X: half(x0), Y: half(y0)}, Max: vg.Point{X: half(x1), Y: half(y1)}}
		if r == last {
			continue
		}
		last = r
		b.rect(&c, vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}})
	}
}

func half(v vg.Length) vg.Length { return vg.Length(math.Round(float64(v) * 2)) }

func (b *bands) rect(c *draw.Canvas, r vg.Rectangle) {
	if b.fill != nil {
		c.SetColor(b.fill)
		c.Fill(r.Path())
	}
	if b.edge.Width > 0 {
		c.SetLineStyle(b.edge)
		c.Stroke(r.Path())
	}
}

// Thumbnail draws the legend symbol: a box 12 points wide, or a thin
// mark for strips as narrow as their minimum width.
func (b *bands) Thumbnail(c *draw.Canvas) {
	w := vg.Length(12)
	if b.height > 0 {
		w = max(b.minW, 2)
	}
	m := c.Center().X
	b.rect(c, vg.Rectangle{Min: vg.Point{X: m - w/2, Y: c.Min.Y}, Max: vg.Point{X: m + w/2, Y: c.Max.Y}})
}

// noPad hides a plotter's data range and glyph boxes from the plot: the
// axes keep the ranges set on them, and dots at the edge do not shrink
// the data area (the panels must line up).
type noPad struct{ plot.Plotter }

// boxedLegend is the top plot's legend in a white box at the data area's
// top right, each symbol left of its text. It is a plotter, added last:
// the plot's own Legend draws without a box, and puts the symbols left of
// the text only when it sits at the left edge.
type boxedLegend struct{ plot.Legend }

func newBoxedLegend() *boxedLegend {
	l := plot.NewLegend()
	l.TextStyle, l.Top, l.Left, l.Padding, l.ThumbnailWidth = txt(13, colText, false), true, true, 5, 16
	return &boxedLegend{l}
}

func (l *boxedLegend) Plot(c draw.Canvas, _ *plot.Plot) {
	const margin, padX, padY = 8, 6, 5
	sz := l.Rectangle(c).Size()
	top := vg.Point{X: c.Max.X - margin, Y: c.Max.Y - margin}
	box := vg.Rectangle{Min: vg.Point{X: top.X - sz.X - 2*padX, Y: top.Y - sz.Y - 2*padY}, Max: top}
	c.SetColor(rgba(255, 255, 255, 230))
	c.Fill(box.Path())
	c.SetLineStyle(line(1, colGrid))
	c.Stroke(box.Path())
	l.Draw(draw.Crop(draw.Canvas{Canvas: c.Canvas, Rectangle: box}, padX, -padX, padY, -padY))
}
