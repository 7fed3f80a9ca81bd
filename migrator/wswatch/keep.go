package wswatch

import (
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// take checks r against the RAM and keeps it as the latest.
func (w *Watcher) take(r wsreport.Report) {
	c := wsreport.Validate(r, w.cfg.RAMBytes)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	first := w.latest.At.IsZero()
	l := &w.latest
	l.Checked, l.Seq, l.Uptime, l.Flags, l.At = c, r.Seq, r.Uptime, r.Flags, now
	l.Received++
	if first {
		w.log.Info("first working-set report", "seq", r.Seq, "ranges", len(c.Ranges), "pages", c.Pages,
			"dropped", c.Dropped, "clipped", c.Clipped)
	}
}

// rejected counts a refused report and logs it, at most once per LogEvery.
func (w *Watcher) rejected(err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest.Rejected++
	if !w.lastLog.IsZero() && now.Sub(w.lastLog) < w.cfg.LogEvery {
		w.quiet++
		return
	}
	w.log.Warn("working-set report rejected", "err", err, "rejected", w.latest.Rejected, "not_logged", w.quiet)
	w.lastLog, w.quiet = now, 0
}

// count updates the counters under the lock.
func (w *Watcher) count(f func(*Latest)) {
	w.mu.Lock()
	f(&w.latest)
	w.mu.Unlock()
}
