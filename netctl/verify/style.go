package verify

import (
	"image/color"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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
	colBuffer  = rgba(121, 85, 72, 220) // when the source buffered the VM's packets
	// colRecovery: from the resume at the destination until the VNF
	// reflected at its rate again.
	colRecovery = rgba(142, 36, 170, 200)
)

// phaseColors: shading and label colour per phase name.
var phaseColors = map[string][2]color.NRGBA{
	"setup":      {rgba(150, 150, 150, 45), rgba(90, 90, 90, 255)},
	"precopy":    {rgba(66, 133, 244, 38), rgba(25, 90, 200, 255)},
	"postcopy":   {rgba(156, 39, 176, 45), rgba(120, 30, 140, 255)},
	"switchover": {rgba(255, 152, 0, 90), rgba(200, 100, 0, 255)},
	"cleanup":    {rgba(76, 175, 80, 45), rgba(40, 120, 40, 255)},
	"rollback":   {rgba(211, 47, 47, 30), rgba(160, 30, 30, 255)},
}

func phaseColor(name string) (fill, label color.NRGBA) {
	if c, ok := phaseColors[name]; ok {
		return c[0], c[1]
	}
	return rgba(120, 120, 120, 35), colMuted
}

// rgba takes straight (not premultiplied) alpha, as the colours above
// were picked; color.NRGBA is what the vg back ends expect for that.
func rgba(r, g, b, a uint8) color.NRGBA { return color.NRGBA{r, g, b, a} }

// txt is the picture's text style: Liberation Sans (gonum/plot's own
// font, so the PNG looks the same on every machine) at size points.
func txt(size vg.Length, c color.Color, bold bool) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return text.Style{Color: c, Font: f, Handler: plot.DefaultTextHandler}
}

// line is a solid line style.
func line(width vg.Length, c color.Color) draw.LineStyle {
	return draw.LineStyle{Width: width, Color: c}
}

// styleAxes gives p's axes the picture's fonts, nice ticks (about 14 on
// x, 5 on y) and no padding, so data reaches the frame as before.
func styleAxes(p *plot.Plot, ylabel, xlabel string) {
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Padding = 0
		a.LineStyle = line(1, colFrame)
		a.Tick.LineStyle = line(1, colFrame)
		a.Tick.Length = 5
		a.Tick.Label = txt(13, colText, false)
		a.Label.TextStyle = txt(14, colText, false)
	}
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XCenter, draw.YTop
	p.Y.Tick.Label.XAlign, p.Y.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.X.Label.TextStyle.XAlign, p.Y.Label.TextStyle.XAlign = draw.XCenter, draw.XCenter
	p.X.Tick.Marker, p.Y.Tick.Marker = niceTicks(14), niceTicks(5)
	p.Y.Tick.Length = 0 // the grid marks y
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	p.X.Label.Padding, p.Y.Label.Padding = 4, 8
}
