package verify

import (
	"fmt"
	"math"
	"time"
)

// panel maps seconds (x) and values (y) to the pixel rectangle x, y, w, h.
type panel struct {
	x, y, w, h float64
	t0, t1     float64
	v0, v1     float64
}

func (p panel) px(t float64) float64 { return p.x + (t-p.t0)/(p.t1-p.t0)*p.w }
func (p panel) py(v float64) float64 { return p.y + p.h - (v-p.v0)/(p.v1-p.v0)*p.h }

// axisY draws horizontal grid lines, tick labels and the vertical label.
func axisY(c canvas, p panel, label string) {
	step := niceStep(p.v1-p.v0, 5)
	for _, v := range ticks(p.v0, p.v1, 5) {
		y := p.py(v)
		c.line(p.x, y, p.x+p.w, y, 1, colGrid)
		c.text(p.x-8, y+5, tickLabel(v, step), textStyle{size: 13, c: colText, anchor: anchorEnd})
	}
	c.text(p.x-55, p.y+p.h/2, label, textStyle{size: 14, c: colText, anchor: anchorMiddle, vertical: true})
}

// axisX draws the frame, vertical ticks with labels, and the x label.
func axisX(c canvas, p panel, label string) {
	step := niceStep(p.t1-p.t0, 14)
	for _, v := range ticks(p.t0, p.t1, 14) {
		x := p.px(v)
		c.line(x, p.y+p.h, x, p.y+p.h+5, 1, colFrame)
		c.text(x, p.y+p.h+19, tickLabel(v, step), textStyle{size: 13, c: colText, anchor: anchorMiddle})
	}
	for _, l := range [][4]float64{{p.x, p.y, p.x + p.w, p.y}, {p.x, p.y + p.h, p.x + p.w, p.y + p.h}, {p.x, p.y, p.x, p.y + p.h}, {p.x + p.w, p.y, p.x + p.w, p.y + p.h}} {
		c.line(l[0], l[1], l[2], l[3], 1, colFrame)
	}
	if label != "" {
		c.text(p.x+p.w/2, p.y+p.h+38, label, textStyle{size: 14, c: colText, anchor: anchorMiddle})
	}
}

// rttPanel plots the RTT of every reply at its send time, lost packets as
// red marks on the x axis; points beyond the y range sit on the top edge in
// orange.
func (t *timeline) rttPanel(c canvas, p panel, ylabel string, legend bool) {
	var maxMS float64
	var in []Sample
	for _, s := range t.samples {
		if x := t.sec(s.Sent); x >= p.t0 && x <= p.t1 {
			in = append(in, s)
			if !s.Lost() {
				maxMS = max(maxMS, ms(s.RTT))
			}
		}
	}
	p.v0, p.v1 = 0, niceCeil(maxMS*1.1)
	p99 := ms(time.Duration(t.r.LatencyP99))
	if maxMS > 5*p99 && p99 > 0 { // a few outliers would flatten the rest
		p.v1 = niceCeil(p99 * 3)
	}
	t.backdrop(c, p)
	axisY(c, p, ylabel)
	seen := map[[2]int]bool{}
	clipped, lost := 0, 0
	var lostX []float64
	for _, s := range in {
		x := p.px(t.sec(s.Sent))
		if s.Lost() {
			lost++
			lostX = append(lostX, x)
			continue
		}
		v, col := ms(s.RTT), colReply
		if v > p.v1 {
			v, col = p.v1, colClip
			clipped++
		}
		y := p.py(v)
		k := [2]int{int(x * 2), int(y * 2)} // one dot per half pixel
		if seen[k] {
			continue
		}
		seen[k] = true
		c.dot(x, y, 1.8, col)
	}
	lastX := math.Inf(-1)
	for _, x := range lostX {
		if x-lastX < 0.5 {
			continue
		}
		lastX = x
		c.line(x, p.y+p.h, x, p.y+p.h-14, 1.5, colLost)
	}
	if legend {
		items := []legendItem{{"reply: RTT at send time", colReply, 'o'}, {fmt.Sprintf("lost packet (%d)", lost), colLost, '|'}}
		if clipped > 0 {
			items = append(items, legendItem{fmt.Sprintf("%d replies above %.4g ms", clipped, p.v1), colClip, 'o'})
		}
		if t.r.GapLost > 0 {
			items = append(items, legendItem{"largest gap " + fmtMS(t.r.LargestGap) + " in " + t.r.GapPhase, colLost, '#'})
		}
		drawLegend(c, p, items)
	}
}

// ratePanel plots replies per bin (by arrival time, blue) with the packets
// lost per bin (by send time, red) stacked on top, in packets/s, and
// outlines the zoom window.
func (t *timeline) ratePanel(c canvas, p panel, zoom [2]float64) {
	bin := binFor(p)
	nb := int(math.Ceil((p.t1-p.t0)/bin.Seconds())) + 1
	got, lost := make([]int, nb), make([]int, nb)
	idx := func(x float64) int { return min(max(int((x-p.t0)/bin.Seconds()), 0), nb-1) }
	for _, s := range t.samples {
		if s.Lost() {
			lost[idx(t.sec(s.Sent))]++
		} else {
			got[idx(t.sec(s.Received))]++
		}
	}
	peak := t.rate
	for i := range got {
		peak = max(peak, float64(got[i]+lost[i])/bin.Seconds())
	}
	p.v0, p.v1 = 0, niceCeil(peak*1.15)
	t.backdrop(c, p)
	axisY(c, p, "replies (packets/s)")
	// Replies as one stepped area; losses as bars on top, pixel-aligned.
	area := [][2]float64{{p.px(p.t0), p.py(0)}}
	for i := range got {
		x0, x1 := p.px(p.t0+float64(i)*bin.Seconds()), min(p.px(p.t0+float64(i+1)*bin.Seconds()), p.x+p.w)
		y := p.py(float64(got[i]) / bin.Seconds())
		area = append(area, [2]float64{x0, y}, [2]float64{x1, y})
		if lost[i] > 0 {
			g, l := float64(got[i])/bin.Seconds(), float64(lost[i])/bin.Seconds()
			rx0, rx1 := math.Floor(x0), math.Max(math.Ceil(x1), math.Floor(x0)+1)
			c.rect(rx0, p.py(g+l), rx1-rx0, p.py(g)-p.py(g+l), colLost)
		}
	}
	area = append(area, [2]float64{area[len(area)-1][0], p.py(0)})
	c.poly(area, colBar)
	if t.rate > 0 { // dashed line at the sending rate
		y := p.py(t.rate)
		for x := p.x; x < p.x+p.w; x += 12 {
			c.line(x, y, min(x+6, p.x+p.w), y, 1.2, colText)
		}
		c.text(p.x+8, y-6, fmt.Sprintf("sent %.0f pps", t.rate), textStyle{size: 13, c: colText})
	}
	c.text(p.x, p.y-7, fmt.Sprintf("Replies per %v bin (blue, by arrival time) and lost packets (red, by send time)", bin), textStyle{size: 13, c: colMuted})
	if zoom[0] > p.t0 || zoom[1] < p.t1 {
		x0, x1 := p.px(max(zoom[0], p.t0)), p.px(min(zoom[1], p.t1))
		if x1-x0 < minBandW {
			x0, x1 = (x0+x1)/2-minBandW/2, (x0+x1)/2+minBandW/2
		}
		for _, l := range [][4]float64{{x0, p.y, x0, p.y + p.h}, {x1, p.y, x1, p.y + p.h}, {x0, p.y, x1, p.y}, {x0, p.y + p.h, x1, p.y + p.h}} {
			c.line(l[0], l[1], l[2], l[3], 1.2, colText)
		}
		c.text((x0+x1)/2, p.y+15, "zoom", textStyle{size: 12, c: colText, anchor: anchorMiddle})
	}
}

// binFor picks the bin: 10ms, or wider so that a bin is at least a pixel.
func binFor(p panel) time.Duration {
	perPx := time.Duration((p.t1 - p.t0) / p.w * float64(time.Second))
	for _, b := range []time.Duration{minBin, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		if b >= perPx {
			return b
		}
	}
	return time.Duration(niceCeil(perPx.Seconds()) * float64(time.Second))
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }
