package cli

import (
	"testing"
	"time"
)

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                    "-",
		850 * time.Millisecond:          "850ms",
		4200 * time.Millisecond:         "4.2s",
		192 * time.Second:               "3m12s",
		2*time.Hour + 3*time.Minute:     "2h03m",
		76*time.Hour + 20*time.Minute:   "3d04h",
		59*time.Minute + 59*time.Second: "59m59s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
