package twamp

import (
	"testing"
	"time"
)

func TestTimestampEpochs(t *testing.T) {
	if got := NewTimestamp(time.Unix(0, 0)); got.Seconds() != 2208988800 || got.Fraction() != 0 {
		t.Fatalf("unix epoch = %d.%d", got.Seconds(), got.Fraction())
	}
	if got := NewTimestamp(time.Unix(0, 5e8)); got.Fraction() != 1<<31 {
		t.Fatalf("half second fraction = %#x", got.Fraction())
	}
	if got := Timestamp(uint64(2208988800)<<32 | 1<<31).Time(); !got.Equal(time.Unix(0, 5e8)) {
		t.Fatalf("Time() = %v", got)
	}
}

func TestTimestampRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC), // start of NTP era 1
		time.Date(2040, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		got := NewTimestamp(tm).Time()
		if d := got.Sub(tm); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("%v -> %v (off by %v)", tm, got, d)
		}
	}
}

func TestTimestampSub(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, time.Microsecond, 1500 * time.Millisecond, -3 * time.Millisecond, 90 * time.Minute} {
		got := NewTimestamp(base.Add(d)).Sub(NewTimestamp(base))
		if diff := got - d; diff < -2 || diff > 2 {
			t.Errorf("Sub(%v) = %v", d, got)
		}
	}
	// Across the era boundary the raw values wrap but the difference holds.
	era := time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)
	if got := NewTimestamp(era.Add(time.Second)).Sub(NewTimestamp(era.Add(-time.Second))); got != 2*time.Second {
		t.Errorf("across era: %v", got)
	}
}

func TestErrorEstimateBits(t *testing.T) {
	e := NewErrorEstimate(true, 0x3f, 0xab)
	if uint16(e) != 0x8000|0x3f00|0xab || !e.Synced() || e.Z() || e.Scale() != 0x3f || e.Multiplier() != 0xab {
		t.Fatalf("e = %#04x", uint16(e))
	}
	e = NewErrorEstimate(false, 32, 1) // 1 s
	if e.Synced() || e.Duration() != time.Second {
		t.Fatalf("%#04x: %v", uint16(e), e.Duration())
	}
}

func TestEstimateForCovers(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, time.Microsecond, time.Millisecond, 3 * time.Second, time.Hour} {
		e := EstimateFor(d, false)
		if e.Multiplier() == 0 {
			t.Fatalf("%v: zero multiplier", d)
		}
		if got := e.Duration(); got < d || (d > time.Microsecond && got > d+d/64) {
			t.Errorf("EstimateFor(%v).Duration() = %v", d, got)
		}
	}
}
