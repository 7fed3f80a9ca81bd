package policy

import (
	"strings"
	"testing"
	"time"
)

// active is query-migrate's return as QEMU 7.2 prints it mid-migration.
const active = `{"expected-downtime": 300, "status": "active", "setup-time": 12,
 "total-time": 2500, "ram": {"total": 1091379200, "postcopy-requests": 0,
 "dirty-sync-count": 3, "multifd-bytes": 0, "pages-per-second": 30000,
 "downtime-bytes": 0, "page-size": 4096, "remaining": 20971520, "postcopy-bytes": 0,
 "mbps": 1000.5, "transferred": 300000000, "dirty-sync-missed-zero-copy": 0,
 "precopy-bytes": 300000000, "duplicate": 190000, "dirty-pages-rate": 2560,
 "skipped": 0, "normal-bytes": 290000000, "normal": 70800},
 "cpu-throttle-percentage": 20}`

func TestParseQueryMigrate(t *testing.T) {
	want := Sample{Elapsed: 2500 * time.Millisecond, Status: "active", Pass: 3,
		Total: 1091379200, Transferred: 300000000, Remaining: 20 << 20,
		DirtyRate: 10 << 20, Rate: 125062500, ExpectedDowntime: 300 * time.Millisecond,
		ThrottlePct: 20}
	for _, raw := range []string{active, `{"return": ` + active + `}`} {
		got, err := ParseQueryMigrate([]byte(raw))
		if err != nil || got != want {
			t.Errorf("got %+v, %v\nwant %+v", got, err, want)
		}
	}
	pc, err := ParseQueryMigrate([]byte(`{"status": "postcopy-active", "total-time": 5}`))
	if err != nil || !pc.PostcopyActive || pc.Pass != 0 {
		t.Errorf("postcopy: %+v, %v", pc, err)
	}
	none, err := ParseQueryMigrate([]byte(`{}`))
	if err != nil || none.Status != "none" {
		t.Errorf("no migration: %+v, %v", none, err)
	}
}

func TestParseQueryMigrateErrors(t *testing.T) {
	for raw, want := range map[string]string{
		`[`:                                    "decoding query-migrate",
		`{"total-time": -1}`:                   "total-time -1 ms out of range",
		`{"expected-downtime": 9223372036855}`: "expected-downtime",
		`{"ram": {"mbps": -3}}`:                "mbps",
		`{"ram": {"remaining": -3}}`:           "decoding",
		`{"cpu-throttle-percentage": 101}`:     "cpu-throttle-percentage 101",
	} {
		if _, err := ParseQueryMigrate([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", raw, err, want)
		}
	}
}

func TestParseQueryMigrateSaturates(t *testing.T) {
	s, err := ParseQueryMigrate([]byte(`{"status":"active","ram":{"dirty-pages-rate":18446744073709551615,"page-size":65536,"mbps":1e300}}`))
	if err != nil || s.DirtyRate != ^uint64(0) || s.Rate != ^uint64(0) {
		t.Errorf("%+v, %v", s, err)
	}
}

func FuzzParseQueryMigrate(f *testing.F) {
	f.Add([]byte(active))
	f.Add([]byte(`{"return": ` + active + `}`))
	f.Add([]byte(`{"status": "completed", "downtime": 40, "total-time": 2400, "setup-time": 3}`))
	f.Add([]byte(`{"status": "failed", "error-desc": "Unable to write to socket"}`))
	f.Add([]byte(`{"return": null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseQueryMigrate(raw)
		sum, err2 := ParseSummary(raw)
		if err != nil {
			return
		}
		if s.Elapsed < 0 || s.ExpectedDowntime < 0 || s.Status == "" || s.ThrottlePct < 0 || s.Pass < 0 {
			t.Fatalf("bad sample %+v", s)
		}
		if err2 == nil && (sum.Status != s.Status || sum.TotalTime != s.Elapsed ||
			sum.RAM.Transferred != s.Transferred || sum.RAM.Total != s.Total) {
			t.Fatalf("sample %+v and summary %+v disagree", s, sum)
		}
		New(Config{}).Observe(s) // must not panic on any parsed sample
	})
}
