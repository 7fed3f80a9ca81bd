package qmpcmd

import (
	"encoding/json"
	"testing"
)

// TestArgsGolden: each argument struct encodes as the map literal it
// replaced did (encoding/json writes a map's keys sorted).
func TestArgsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args any
		was  any // the map the session or policy sent before
	}{
		{"capabilities", Capabilities(map[string]bool{"pause-before-switchover": true, "events": true, "multifd": false}),
			map[string]any{"capabilities": []map[string]any{
				{"capability": "events", "state": true}, {"capability": "multifd", "state": false},
				{"capability": "pause-before-switchover", "state": true}}}},
		{"migrate", UnixURI("/run/vm/migrate.sock"), map[string]any{"uri": "unix:/run/vm/migrate.sock"}},
		{"migrate-incoming", UnixURI("/run/vm/incoming.sock"), map[string]string{"uri": "unix:/run/vm/incoming.sock"}},
		{"migrate-continue", Continue{State: MigrationPreSwitchover}, map[string]string{"state": "pre-switchover"}},
		{"queue status", VirtioQueue{Path: "/machine/peripheral-anon/device[0]/virtio-backend", Queue: 0},
			map[string]any{"path": "/machine/peripheral-anon/device[0]/virtio-backend", "queue": 0}},
		{"bandwidth", Parameters{MaxBandwidth: new(uint64(1 << 30))}, map[string]any{"max-bandwidth": uint64(1 << 30)}},
		{"multifd", Parameters{MultifdChannels: new(4)}, map[string]any{"multifd-channels": 4}},
		{"all parameters", Parameters{CPUThrottleIncrement: new(1), CPUThrottleInitial: new(2), CPUThrottleTailslow: new(false),
			DowntimeLimit: new(int64(50)), MaxBandwidth: new(uint64(64 << 20)), MaxCPUThrottle: new(3), MultifdChannels: new(2),
			ThrottleTriggerThreshold: new(100)},
			map[string]any{"cpu-throttle-increment": 1, "cpu-throttle-initial": 2, "cpu-throttle-tailslow": false,
				"downtime-limit": int64(50), "max-bandwidth": uint64(64 << 20), "max-cpu-throttle": 3, "multifd-channels": 2,
				"throttle-trigger-threshold": 100}},
		{"no parameters", Parameters{}, map[string]any{}},
	} {
		got, err := json.Marshal(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(tc.was)
		if string(got) != string(want) {
			t.Errorf("%s: %s\nwant %s", tc.name, got, want)
		}
	}
}

func TestRepliesDecode(t *testing.T) {
	var mi MigrateInfo
	if err := json.Unmarshal([]byte(`{"status":"failed","error-desc":"boom","total-time":3}`), &mi); err != nil ||
		mi != (MigrateInfo{Status: MigrationFailed, ErrorDesc: "boom"}) {
		t.Errorf("query-migrate: %+v %v", mi, err)
	}
	var si StatusInfo
	if err := json.Unmarshal([]byte(`{"status":"paused","running":false}`), &si); err != nil || si.Status != RunStatePaused {
		t.Errorf("query-status: %+v %v", si, err)
	}
	var q VirtioQueueStatus
	if err := json.Unmarshal([]byte(`{"last-avail-idx":7,"shadow-avail-idx":9,"used-idx":7}`), &q); err != nil ||
		q != (VirtioQueueStatus{LastAvail: 7, ShadowAvail: 9, Used: 7}) {
		t.Errorf("queue status: %+v %v", q, err)
	}
	var devs []VirtioDevice
	if err := json.Unmarshal([]byte(`[{"name":"virtio-net","path":"/p"}]`), &devs); err != nil ||
		len(devs) != 1 || devs[0] != (VirtioDevice{Name: "virtio-net", Path: "/p"}) {
		t.Errorf("x-query-virtio: %+v %v", devs, err)
	}
}
