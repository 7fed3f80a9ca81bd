package twamp

import (
	"math"
	"math/bits"
	"time"
)

// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP era 0) to
// 1970-01-01 (Unix epoch).
const ntpEpochOffset = 2208988800

// Timestamp is a 64-bit NTP timestamp: seconds since 1900-01-01 UTC in the
// high 32 bits, binary fraction of a second in the low 32 bits.
type Timestamp uint64

// NewTimestamp returns the NTP timestamp of t.
//
// Times from 2036-02-07 on wrap into NTP era 1; Time undoes that for values
// whose seconds field has its top bit clear (RFC 4330 section 3).
func NewTimestamp(t time.Time) Timestamp {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return Timestamp(secs<<32 | frac)
}

// Seconds is the integer part.
func (ts Timestamp) Seconds() uint32 { return uint32(ts >> 32) }

// Fraction is the fractional part in units of 2^-32 s.
func (ts Timestamp) Fraction() uint32 { return uint32(ts) }

// Time converts ts back to a time.Time (UTC), to within a nanosecond.
// Seconds values below 2^31 are taken to be in era 1 (2036-2104).
func (ts Timestamp) Time() time.Time {
	secs := int64(ts.Seconds())
	if ts.Seconds()&0x80000000 == 0 {
		secs += 1 << 32
	}
	// Round the fraction to the nearest nanosecond.
	hi, lo := bits.Mul64(uint64(ts.Fraction()), 1e9)
	nsec := hi<<32 | lo>>32
	if lo&(1<<31) != 0 {
		nsec++
	}
	return time.Unix(secs-ntpEpochOffset, int64(nsec)).UTC()
}

// Sub returns ts - u as a duration, for timestamps taken within about 68 years
// of each other (the difference of the raw values wraps at 2^64).
func (ts Timestamp) Sub(u Timestamp) time.Duration {
	d := int64(ts - u) // 2^-32 s units, two's complement
	neg := d < 0
	if neg {
		d = -d
		if d < 0 { // math.MinInt64
			return math.MinInt64
		}
	}
	hi, lo := bits.Mul64(uint64(d), 1e9)
	ns := hi<<32 | lo>>32
	if ns > math.MaxInt64 {
		ns = math.MaxInt64
	}
	if neg {
		return -time.Duration(ns)
	}
	return time.Duration(ns)
}
