package policy

import (
	"maps"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestFromRequest(t *testing.T) {
	c := FromRequest(api.MigrateRequest{VM: "v", To: "hostB"})
	want := Config{InitialBandwidth: 64 << 20, MaxBandwidth: 1 << 30, Margin: 0.25,
		DowntimeTarget: 50 * time.Millisecond, StallPasses: 4, MaxProjected: 225 * time.Second,
		Postcopy: api.PostcopyAuto, CompletionTimeout: 5 * time.Minute, TimeoutAction: api.TimeoutAbort}
	if c != want {
		t.Errorf("defaults %+v\nwant %+v", c, want)
	}
	c = FromRequest(api.MigrateRequest{Bandwidth: 8 << 20, Postcopy: api.PostcopyNever,
		DowntimeTarget: api.Duration(time.Second), CompletionTimeout: api.Duration(time.Minute)})
	if c.InitialBandwidth != 8<<20 || c.MaxBandwidth != 8<<20 || c.Postcopy != api.PostcopyNever ||
		c.DowntimeTarget != time.Second || c.MaxProjected != 45*time.Second {
		t.Errorf("explicit %+v", c)
	}
}

func TestCapabilitiesAndParameters(t *testing.T) {
	auto := Config{InitialBandwidth: 32 << 20, DowntimeTarget: 20 * time.Millisecond}
	if got := Capabilities(auto); !maps.Equal(got, map[string]bool{"events": true,
		"pause-before-switchover": true, "postcopy-ram": true, "auto-converge": false}) {
		t.Errorf("auto capabilities %v", got)
	}
	if got := Parameters(auto); !maps.Equal(got, map[string]any{
		"max-bandwidth": uint64(32 << 20), "downtime-limit": int64(20)}) {
		t.Errorf("auto parameters %v", got)
	}
	never := Config{Postcopy: api.PostcopyNever, DowntimeTarget: time.Microsecond}
	caps := Capabilities(never)
	if caps["postcopy-ram"] || !caps["auto-converge"] {
		t.Errorf("never capabilities %v", caps)
	}
	p := Parameters(never)
	if p["downtime-limit"] != int64(1) || p["max-cpu-throttle"] != 1 ||
		p["cpu-throttle-initial"] != 1 || p["throttle-trigger-threshold"] != 100 {
		t.Errorf("never parameters %v", p)
	}
	if p := Parameters(Config{AgentSwitchover: true, DowntimeTarget: time.Second}); p["downtime-limit"] != int64(1) {
		t.Errorf("agent switchover: downtime-limit %v, want 1 (QEMU must not stop the guest itself)", p["downtime-limit"])
	}
	if !Capabilities(Config{Postcopy: api.PostcopyAlways})["postcopy-ram"] {
		t.Error("always without postcopy-ram")
	}
}
