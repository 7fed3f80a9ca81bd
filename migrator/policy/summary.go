package policy

import (
	"errors"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Summary is what query-migrate reports at the end of a migration, for the
// migration's record.
type Summary struct {
	Status                         string
	Error                          string // error-desc when failed
	TotalTime, Downtime, SetupTime time.Duration
	RAM                            api.RAMStats
	ThrottlePct                    int
}

// ParseSummary reads QMP query-migrate's "return" object (best taken once
// the status is completed, failed or cancelled). QEMU 7.2 sets the status
// to completed a moment before it computes total-time and downtime
// (migration_calculate_complete runs after migration_completion): on the
// source, poll until TotalTime is non-zero.
func ParseSummary(raw []byte) (Summary, error) {
	q, err := decode(raw)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Status: q.Status, Error: q.ErrorDesc, ThrottlePct: q.ThrottlePct}
	var errs [3]error
	s.TotalTime, errs[0] = ms("total-time", q.TotalTime)
	s.Downtime, errs[1] = ms("downtime", q.Downtime)
	s.SetupTime, errs[2] = ms("setup-time", q.SetupTime)
	if err := errors.Join(errs[:]...); err != nil {
		return Summary{}, err
	}
	if r := q.RAM; r != nil {
		s.RAM = api.RAMStats{
			Total:            r.Total,
			Transferred:      r.Transferred,
			Normal:           r.Normal,
			Duplicate:        r.Duplicate,
			MultifdBytes:     r.MultifdBytes,
			PostcopyRequests: r.PostcopyRequests,
			DirtySyncCount:   r.DirtySyncCount,
		}
	}
	return s, nil
}

// Fill copies the summary into a migration record: TotalTime,
// QEMUDowntime, SetupTime, RAM, and Throttled if higher (QEMU stops
// throttling, and stops reporting it, when the migration ends: keep the
// highest Sample.ThrottlePct in m.Throttled while it runs).
func (s Summary) Fill(m *api.Migration) {
	m.TotalTime = api.Duration(s.TotalTime)
	m.QEMUDowntime = api.Duration(s.Downtime)
	m.SetupTime = api.Duration(s.SetupTime)
	m.RAM = s.RAM
	m.Throttled = max(m.Throttled, s.ThrottlePct)
}
