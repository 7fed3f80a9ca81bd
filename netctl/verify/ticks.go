package verify

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// niceTicks marks an axis at about n nice steps, labelled with just
// enough decimals (gonum's DefaultTicks aims at fewer, with minor ticks).
func niceTicks(n int) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		step := niceStep(hi-lo, n)
		var out []plot.Tick
		for _, v := range ticks(lo, hi, n) {
			out = append(out, plot.Tick{Value: v, Label: tickLabel(v, step)})
		}
		return out
	})
}

// niceStep returns a 1, 2 or 5 times a power of ten step that cuts span
// into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns the multiples of a nice step within [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	step := niceStep(hi-lo, n)
	var out []float64
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if v == 0 {
			v = 0 // not -0
		}
		out = append(out, v)
	}
	return out
}

// niceCeil rounds v up to a nice axis maximum.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	step := niceStep(v, 5)
	return math.Ceil(v/step-1e-9) * step
}

// tickLabel prints v with just enough decimals for step.
func tickLabel(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}
