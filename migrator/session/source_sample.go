package session

import (
	"context"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// sample reads query-migrate, updates the progress and lets the policy act.
func (s *source) sample(ctx context.Context) error {
	var raw []byte
	err := bounded(ctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		raw, err = queryMigrate(ctx, s.cfg.Guest)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		s.log.Warn("query-migrate", "err", err)
		return nil
	}
	smp, err := policy.ParseQueryMigrate(raw)
	if err != nil {
		s.log.Warn("parsing query-migrate", "err", err)
		return nil
	}
	smp.At = time.Now()
	s.rec.update(false, func(m *api.Migration) {
		m.Progress = s.progress(smp)
		// QEMU stops throttling, and reporting it, when the migration
		// ends: the record keeps the highest percentage seen.
		m.Throttled = max(m.Throttled, smp.ThrottlePct)
	})
	s.handoffStats(false)
	errDesc := ""
	if smp.Status == qmpcmd.MigrationFailed || smp.Status == qmpcmd.MigrationCancelled {
		if sum, err := policy.ParseSummary(raw); err == nil {
			errDesc = sum.Error
		}
	}
	if err := s.onStatus(ctx, smp.Status, errDesc); err != nil {
		return err
	}
	if s.phase >= srcCommitted || (smp.Status != qmpcmd.MigrationActive && smp.Status != qmpcmd.MigrationPostcopyActive) {
		return nil
	}
	if smp.Pass > s.passLogged {
		// One line per pass: what the policy judged (rates in bytes/s).
		s.passLogged = smp.Pass
		smp.WorkingSet = s.workingSetBytes()
		s.log.Info("pass", "pass", smp.Pass, "remaining", smp.Remaining, "rate", smp.Rate,
			"dirty_rate", smp.DirtyRate, "bandwidth", s.pol.Bandwidth(), "elapsed", smp.Elapsed,
			"working_set", smp.WorkingSet)
	}
	for _, a := range s.pol.Observe(smp) {
		if err := s.apply(ctx, a, smp.Pass); err != nil {
			return err
		}
	}
	return nil
}

func (s *source) progress(smp policy.Sample) api.Progress {
	p := api.Progress{
		Transferred: smp.Transferred, Remaining: smp.Remaining, Total: smp.Total,
		Rate: smp.Rate, DirtyRate: smp.DirtyRate, Bandwidth: s.bandwidth, Pass: smp.Pass,
		ExpectedDowntime: api.Duration(smp.ExpectedDowntime), Elapsed: api.Duration(smp.Elapsed),
	}
	if s.pcfg.AgentSwitchover && p.ExpectedDowntime <= api.Duration(time.Millisecond) {
		// QEMU shows its downtime-limit until it has a dirty rate: that
		// is 1 ms here, the agent applying the real target.
		p.ExpectedDowntime = api.Duration(s.pcfg.DowntimeTarget)
	}
	if smp.Total > 0 {
		p.Percent = 100 * float64(smp.Total-min(smp.Remaining, smp.Total)) / float64(smp.Total)
	}
	if smp.Status == qmpcmd.MigrationCompleted {
		p.Percent, p.Remaining = 100, 0
	}
	if smp.Rate > 0 {
		p.ETA = api.Duration(time.Duration(float64(smp.Remaining) / float64(smp.Rate) * float64(time.Second)))
	}
	return p
}
