package verify

import "image/color"

// legendItem is one line of a legend: a symbol and its meaning.
type legendItem struct {
	label string
	c     color.RGBA
	kind  rune // 'o' dot, '|' tick, '#' band
}

func drawLegend(c canvas, p panel, items []legendItem) {
	st := textStyle{size: 13, c: colText}
	w := 0.0
	for _, it := range items {
		w = max(w, c.textWidth(it.label, st))
	}
	w += 36
	h := float64(len(items))*18 + 8
	x, y := p.x+p.w-w-8, p.y+8
	c.rect(x, y, w, h, rgba(255, 255, 255, 230))
	for _, l := range [][4]float64{{x, y, x + w, y}, {x, y + h, x + w, y + h}, {x, y, x, y + h}, {x + w, y, x + w, y + h}} {
		c.line(l[0], l[1], l[2], l[3], 1, colGrid)
	}
	for i, it := range items {
		cy := y + 13 + float64(i)*18
		switch it.kind {
		case 'o':
			c.dot(x+14, cy-4, 3, it.c)
		case '|':
			c.line(x+14, cy+2, x+14, cy-10, 2, it.c)
		case '#':
			c.rect(x+8, cy-11, 12, 13, colGapFill)
			c.line(x+8, cy-11, x+8, cy+2, 1.2, it.c)
			c.line(x+20, cy-11, x+20, cy+2, 1.2, it.c)
		}
		c.text(x+28, cy, it.label, st)
	}
}
