package verify

import (
	"bytes"
	"fmt"
	"html"
	"image/color"
)

// svgCanvas writes SVG elements; text widths are estimated.
type svgCanvas struct {
	w, h int
	b    bytes.Buffer
}

func newSVGCanvas(w, h int) *svgCanvas {
	c := &svgCanvas{w: w, h: h}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Go, 'DejaVu Sans', Arial, sans-serif">`+"\n", w, h, w, h)
	fmt.Fprintf(&c.b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	return c
}

func (c *svgCanvas) rect(x, y, w, h float64, col color.RGBA) {
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, svgColor(col))
}

func (c *svgCanvas) line(x1, y1, x2, y2, width float64, col color.RGBA) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, svgColor(col), width)
}

func (c *svgCanvas) dot(x, y, r float64, col color.RGBA) {
	fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", x, y, r, svgColor(col))
}

func (c *svgCanvas) poly(pts [][2]float64, col color.RGBA) {
	if len(pts) < 3 {
		return
	}
	c.b.WriteString(`<polygon points="`)
	for i, p := range pts {
		if i > 0 {
			c.b.WriteByte(' ')
		}
		fmt.Fprintf(&c.b, "%.1f,%.1f", p[0], p[1])
	}
	fmt.Fprintf(&c.b, `" fill="%s"/>`+"\n", svgColor(col))
}

func (c *svgCanvas) textWidth(s string, st textStyle) float64 {
	return float64(len([]rune(s))) * st.size * 0.55
}

func (c *svgCanvas) text(x, y float64, s string, st textStyle) {
	a := [...]string{"start", "middle", "end"}[st.anchor]
	extra := ""
	if st.bold {
		extra += ` font-weight="bold"`
	}
	if st.vertical {
		extra += fmt.Sprintf(` transform="rotate(-90 %.1f %.1f)"`, x, y)
	}
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" font-size="%.0f" fill="%s" text-anchor="%s"%s>%s</text>`+"\n",
		x, y, st.size, svgColor(st.c), a, extra, html.EscapeString(s))
}

func (c *svgCanvas) bytes() []byte {
	c.b.WriteString("</svg>\n")
	return c.b.Bytes()
}
