package policy

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestFromRequest(t *testing.T) {
	c := FromRequest(api.MigrateRequest{VM: "v", To: "hostB"})
	want := Config{InitialBandwidth: 64 << 20, MaxBandwidth: 1 << 30, Margin: 0.25,
		DowntimeTarget: 50 * time.Millisecond, StallPasses: 4, MaxProjected: 225 * time.Second,
		Postcopy: api.PostcopyAuto, CompletionTimeout: 5 * time.Minute, TimeoutAction: api.TimeoutAbort,
		FixedPause: DefaultFixedPause}
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
	auto := Config{InitialBandwidth: 32 << 20, MaxBandwidth: 512 << 20, DowntimeTarget: 20 * time.Millisecond}
	if got := Capabilities(auto); !maps.Equal(got, map[string]bool{"events": true,
		"pause-before-switchover": true, "postcopy-ram": true, "auto-converge": false}) {
		t.Errorf("auto capabilities %v", got)
	}
	// The JSON QEMU receives: what the maps these were before encoded.
	// QEMU's own cap is out of the way: the agent paces.
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"auto", auto, `{"downtime-limit":20,"max-bandwidth":1099511627776}`},
		{"never", Config{Postcopy: api.PostcopyNever, DowntimeTarget: time.Microsecond},
			`{"cpu-throttle-increment":1,"cpu-throttle-initial":1,"cpu-throttle-tailslow":false,"downtime-limit":1,` +
				`"max-bandwidth":1099511627776,"max-cpu-throttle":1,"throttle-trigger-threshold":100}`},
		// QEMU must not stop the guest itself: downtime-limit 1.
		{"agent switchover", Config{AgentSwitchover: true, DowntimeTarget: time.Second},
			`{"downtime-limit":1,"max-bandwidth":1099511627776}`},
	} {
		if got, _ := json.Marshal(Parameters(tc.cfg)); string(got) != tc.want {
			t.Errorf("%s parameters %s\nwant %s", tc.name, got, tc.want)
		}
	}
	never := Config{Postcopy: api.PostcopyNever, DowntimeTarget: time.Microsecond}
	caps := Capabilities(never)
	if caps["postcopy-ram"] || !caps["auto-converge"] {
		t.Errorf("never capabilities %v", caps)
	}
	if !Capabilities(Config{Postcopy: api.PostcopyAlways})["postcopy-ram"] {
		t.Error("always without postcopy-ram")
	}
}
