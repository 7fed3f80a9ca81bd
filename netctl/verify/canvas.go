package verify

import (
	"fmt"
	"image/color"
)

// canvas is the little drawing vocabulary the timeline needs, drawn once
// into a PNG (pngCanvas) and once into an SVG (svgCanvas). Coordinates are
// pixels from the top left.
type canvas interface {
	rect(x, y, w, h float64, c color.RGBA)
	line(x1, y1, x2, y2, width float64, c color.RGBA)
	dot(x, y, r float64, c color.RGBA)
	poly(pts [][2]float64, c color.RGBA) // filled, closed
	text(x, y float64, s string, st textStyle)
	textWidth(s string, st textStyle) float64
}

type anchor int

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

// textStyle: y is the baseline; vertical text runs bottom to top with x
// its baseline.
type textStyle struct {
	size     float64
	c        color.RGBA
	anchor   anchor
	bold     bool
	vertical bool
}

func rgba(r, g, b, a uint8) color.RGBA { return color.RGBA{r, g, b, a} }

// premultiplied returns c with its colour channels scaled by its alpha, as
// image.RGBA wants.
func premultiplied(c color.RGBA) color.RGBA {
	m := func(v uint8) uint8 { return uint8(uint32(v) * uint32(c.A) / 255) }
	return color.RGBA{m(c.R), m(c.G), m(c.B), c.A}
}

func svgColor(c color.RGBA) string {
	if c.A == 255 {
		return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
	}
	return fmt.Sprintf("rgba(%d,%d,%d,%.3f)", c.R, c.G, c.B, float64(c.A)/255)
}
