package twamp

import (
	"math"
	"time"
)

// ErrorEstimate is the 16-bit error estimate of RFC 4656 section 4.1.2:
//
//	S (1 bit) | Z (1 bit) | Scale (6 bits) | Multiplier (8 bits)
//
// S is set when the clock is synchronized to an external source (e.g. UTC
// via NTP); Z is 0 for NTP-format timestamps (RFC 8186). The estimated error
// is Multiplier * 2^(Scale-32) seconds; Multiplier must not be zero.
type ErrorEstimate uint16

const (
	eeSync  = 0x8000
	eeZ     = 0x4000
	eeScale = 0x3f00
)

// NewErrorEstimate builds an estimate from its parts; scale is taken modulo 64.
func NewErrorEstimate(synced bool, scale, multiplier uint8) ErrorEstimate {
	e := ErrorEstimate(scale&0x3f)<<8 | ErrorEstimate(multiplier)
	if synced {
		e |= eeSync
	}
	return e
}

// EstimateFor returns the smallest-scale estimate that covers d (rounding up),
// with a multiplier of at least 1.
func EstimateFor(d time.Duration, synced bool) ErrorEstimate {
	units := math.Ceil(d.Seconds() * (1 << 32)) // in 2^-32 s
	var scale uint8
	for units > 255 && scale < 63 {
		units = math.Ceil(units / 2)
		scale++
	}
	mult := uint8(max(1, min(units, 255)))
	return NewErrorEstimate(synced, scale, mult)
}

// Synced reports the S bit.
func (e ErrorEstimate) Synced() bool { return e&eeSync != 0 }

// Z reports the Z bit (timestamp format; 0 = NTP).
func (e ErrorEstimate) Z() bool { return e&eeZ != 0 }

// Scale is the 6-bit scale.
func (e ErrorEstimate) Scale() uint8 { return uint8(e & eeScale >> 8) }

// Multiplier is the 8-bit multiplier.
func (e ErrorEstimate) Multiplier() uint8 { return uint8(e) }

// Duration is the estimated error, Multiplier * 2^(Scale-32) seconds,
// saturated at the largest time.Duration.
func (e ErrorEstimate) Duration() time.Duration {
	s := float64(e.Multiplier()) * math.Ldexp(1, int(e.Scale())-32)
	if s*1e9 >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(s * 1e9))
}
