package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Sample is one observation of a running migration, from query-migrate.
type Sample struct {
	At      time.Time     // when it was taken; set by the caller
	Elapsed time.Duration // QEMU's total-time
	Status  string        // QEMU's MigrationStatus, e.g. "active", "postcopy-active"
	Pass    int           // dirty-sync-count: 1 during the first (bulk) pass
	// RAM bytes (ram.total, ram.transferred, ram.remaining).
	Total, Transferred, Remaining uint64
	DirtyRate, Rate               uint64 // bytes/s: dirty-pages-rate × page-size, mbps
	ExpectedDowntime              time.Duration
	ThrottlePct                   int  // cpu-throttle-percentage, 0 when not throttling
	PostcopyActive                bool // status postcopy-*
	// WorkingSet is how many bytes of the guest's working set would go
	// first after a switch to post-copy: a fresh report of the guest's,
	// with prefetch on (0: none; set by the caller).
	WorkingSet uint64
}

// queryMigrate is QEMU 7.2's MigrationInfo (qapi/migration.json), the
// fields we read. Times are ms; ram counters bytes except where noted.
type queryMigrate struct {
	Status           string `json:"status"`
	TotalTime        *int64 `json:"total-time"`
	ExpectedDowntime *int64 `json:"expected-downtime"`
	Downtime         *int64 `json:"downtime"`
	SetupTime        *int64 `json:"setup-time"`
	ThrottlePct      int    `json:"cpu-throttle-percentage"`
	ErrorDesc        string `json:"error-desc"`
	RAM              *struct {
		Transferred      uint64  `json:"transferred"`
		Remaining        uint64  `json:"remaining"`
		Total            uint64  `json:"total"`
		Duplicate        uint64  `json:"duplicate"` // pages
		Normal           uint64  `json:"normal"`    // pages
		DirtyPagesRate   uint64  `json:"dirty-pages-rate"`
		Mbps             float64 `json:"mbps"` // megabits (10^6) per second
		DirtySyncCount   uint64  `json:"dirty-sync-count"`
		PageSize         uint64  `json:"page-size"`
		MultifdBytes     uint64  `json:"multifd-bytes"`
		PostcopyRequests uint64  `json:"postcopy-requests"`
	} `json:"ram"`
}

// decode reads query-migrate's "return" object (a whole {"return": ...}
// response is accepted too) and checks the values.
func decode(raw []byte) (queryMigrate, error) {
	var q queryMigrate
	var wrapped struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(raw, &wrapped); err == nil && len(wrapped.Return) > 0 &&
		!bytes.Equal(wrapped.Return, []byte("null")) {
		raw = wrapped.Return
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return q, fmt.Errorf("decoding query-migrate: %w", err)
	}
	if q.ThrottlePct < 0 || q.ThrottlePct > 100 {
		return q, fmt.Errorf("query-migrate: cpu-throttle-percentage %d out of range", q.ThrottlePct)
	}
	if q.RAM != nil && (q.RAM.Mbps < 0 || math.IsInf(q.RAM.Mbps, 0)) {
		return q, fmt.Errorf("query-migrate: mbps %v out of range", q.RAM.Mbps)
	}
	if q.Status == "" {
		q.Status = "none" // no migration has been started
	}
	return q, nil
}

// ms converts an optional count of milliseconds.
func ms(name string, v *int64) (time.Duration, error) {
	switch {
	case v == nil:
		return 0, nil
	case *v < 0 || *v > math.MaxInt64/int64(time.Millisecond):
		return 0, fmt.Errorf("query-migrate: %s %d ms out of range", name, *v)
	}
	return time.Duration(*v) * time.Millisecond, nil
}

// ParseQueryMigrate reads QMP query-migrate's "return" object into a Sample
// (At left zero).
func ParseQueryMigrate(raw []byte) (Sample, error) {
	q, err := decode(raw)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Status: q.Status, ThrottlePct: q.ThrottlePct,
		PostcopyActive: strings.HasPrefix(q.Status, "postcopy-")}
	var errs [2]error
	s.Elapsed, errs[0] = ms("total-time", q.TotalTime)
	s.ExpectedDowntime, errs[1] = ms("expected-downtime", q.ExpectedDowntime)
	if err := errors.Join(errs[:]...); err != nil {
		return Sample{}, err
	}
	if r := q.RAM; r != nil {
		page := r.PageSize
		if page == 0 {
			page = 4096
		}
		s.Total, s.Transferred, s.Remaining = r.Total, r.Transferred, r.Remaining
		s.DirtyRate = mulSat(r.DirtyPagesRate, page)
		s.Rate = floatSat(r.Mbps * 1e6 / 8)
		s.Pass = int(min(r.DirtySyncCount, math.MaxInt32))
	}
	return s, nil
}

// mulSat multiplies, saturating at the largest uint64.
func mulSat(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}

// floatSat converts a non-negative float, saturating.
func floatSat(f float64) uint64 {
	if f >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(f)
}
