package policy

import (
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

const completed = `{"status": "completed", "setup-time": 4, "downtime": 37, "total-time": 2510,
 "ram": {"total": 1091379200, "postcopy-requests": 2, "dirty-sync-count": 5,
 "multifd-bytes": 1000, "page-size": 4096, "remaining": 0, "mbps": 900.1,
 "transferred": 640000000, "duplicate": 110000, "dirty-pages-rate": 0, "normal": 155000}}`

func TestParseSummary(t *testing.T) {
	s, err := ParseSummary([]byte(completed))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Status: "completed", TotalTime: 2510 * time.Millisecond,
		Downtime: 37 * time.Millisecond, SetupTime: 4 * time.Millisecond,
		RAM: api.RAMStats{Total: 1091379200, Transferred: 640000000, Normal: 155000,
			Duplicate: 110000, MultifdBytes: 1000, PostcopyRequests: 2, DirtySyncCount: 5}}
	if s != want {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	m := api.Migration{Throttled: 30}
	s.Fill(&m)
	if m.TotalTime != api.Duration(2510*time.Millisecond) || m.QEMUDowntime != api.Duration(37*time.Millisecond) ||
		m.SetupTime != api.Duration(4*time.Millisecond) || m.RAM != want.RAM || m.Throttled != 30 {
		t.Errorf("filled %+v", m)
	}
	f, err := ParseSummary([]byte(`{"status": "failed", "error-desc": "boom"}`))
	if err != nil || f.Error != "boom" || f.Status != "failed" {
		t.Errorf("failed: %+v, %v", f, err)
	}
	if _, err := ParseSummary([]byte(`{"downtime": -5}`)); err == nil {
		t.Error("negative downtime accepted")
	}
}
