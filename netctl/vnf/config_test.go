package vnf

import (
	"strings"
	"testing"
)

func TestConfigMix(t *testing.T) {
	c := Config{Mix: Mix{Shared: 200, Unique: 50, Text: 50}}
	c.setDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.WSSMB != 300 || c.SharedSeed != DefaultSharedSeed || c.UniqueSeed == 0 {
		t.Fatalf("defaults: wss %d shared seed %#x unique seed %#x", c.WSSMB, c.SharedSeed, c.UniqueSeed)
	}
	d := Config{Mix: c.Mix}
	d.setDefaults()
	if d.UniqueSeed == c.UniqueSeed {
		t.Fatal("two VMs drew the same unique seed")
	}

	c = Config{WSSMB: 300, Mix: Mix{Shared: 200, Unique: 100}, SharedSeed: 5, UniqueSeed: 6}
	c.setDefaults()
	if err := c.validate(); err != nil || c.SharedSeed != 5 || c.UniqueSeed != 6 {
		t.Fatalf("%+v: %v", c, err)
	}
}

func TestConfigMixErrors(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{WSSMB: 64, Mix: Mix{Shared: 200, Unique: 50}}, "wss 64 MiB but the mix shared=200:unique=50:text=0:zero=0 adds up to 250 MiB"},
		{Config{Fill: FillPattern, Mix: Mix{Shared: 1}}, "fill pattern and a mix"},
		{Config{Mix: Mix{Shared: -1, Unique: 2}}, "mix: shared=-1"},
		{Config{Mix: Mix{Text: maxMixMiB + 1}}, "mix: text="},
		{Config{WSSMB: 64, HotMB: 65}, "hot part 65 MiB of a 64 MiB working set"},
		{Config{WSSMB: 64, HotMB: 64, SweepRate: 1}, "a sweep rate needs a hot part smaller"},
		{Config{WSSMB: 64, SweepRate: 1}, "a sweep rate needs a hot part smaller"},
		{Config{WSSMB: 64, HotMB: 8, SweepRate: -1}, "negative sweep rate"},
		{Config{FreedMB: -1}, "negative freed memory"},
	} {
		tt.c.setDefaults()
		if err := tt.c.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one saying %q", tt.c.Mix, err, tt.want)
		}
	}
}
