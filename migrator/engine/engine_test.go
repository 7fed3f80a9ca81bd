package engine

import (
	"testing"
	"time"
)

func TestFits(t *testing.T) {
	for _, c := range []struct {
		remaining, rate uint64
		target          time.Duration
		want            bool
	}{
		{5 << 20, 100 << 20, 50 * time.Millisecond, true},  // 50 ms of 5 MiB at 100 MiB/s: exactly
		{6 << 20, 100 << 20, 50 * time.Millisecond, false}, // 60 ms
		{0, 100 << 20, 50 * time.Millisecond, true},
		{1, 0, time.Second, false}, // no rate measured yet
		{0, 0, time.Second, false},
	} {
		if got := Fits(c.remaining, c.rate, c.target); got != c.want {
			t.Errorf("Fits(%d, %d, %v) = %v, want %v", c.remaining, c.rate, c.target, got, c.want)
		}
	}
}
