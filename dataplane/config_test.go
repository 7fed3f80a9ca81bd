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

func TestUplinkOf(t *testing.T) {
	c := Config{PinDir: "/p", Uplink: "nfh-up", NetworkUplinks: map[string]string{"core": "nfh-cup"}}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.uplinkOf("") != "nfh-up" || c.uplinkOf("core") != "nfh-cup" || c.uplinkOf("other") != "" {
		t.Errorf("uplinks: %q %q %q", c.uplinkOf(""), c.uplinkOf("core"), c.uplinkOf("other"))
	}
	for _, bad := range []map[string]string{{"": "x"}, {"core": ""}, {"core": "a-very-long-device-name"}} {
		c.NetworkUplinks = bad
		if err := c.validate(); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
