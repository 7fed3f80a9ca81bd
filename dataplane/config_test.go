package dataplane

import "testing"

func TestReplayRate(t *testing.T) {
	for _, c := range []struct {
		cfg      Config
		captured float64
		want     float64
	}{
		{Config{}, 0, DefaultReplayMin},
		{Config{}, 200, DefaultReplayMin},
		{Config{}, 1000, 2000},
		{Config{ReplayRate: 300}, 1000, 300},
	} {
		if got := c.cfg.replayRate(c.captured); got != c.want {
			t.Errorf("%+v, captured at %v/s: %v, want %v", c.cfg, c.captured, got, c.want)
		}
	}
}
