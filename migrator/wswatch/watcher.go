package wswatch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Config configures a Watcher.
type Config struct {
	Socket   string       // the port's unix socket (required)
	RAMBytes uint64       // the guest's RAM, for wsreport.Validate
	Logger   *slog.Logger // nil discards
	// Redial is the pause before reconnecting; 0 = 1s. After a request
	// goes unanswered it doubles, up to MaxRedial (0 = 5s), until the
	// guest answers: a guest that does not report costs little, and one
	// still booting is heard within seconds once it does.
	Redial, MaxRedial time.Duration
	// Interval is the time between two requests; 0 = 1s.
	Interval time.Duration
	// ReplyTimeout bounds the wait for an answer; 0 = 2s. A guest that
	// does not answer in time is asked again on a new connection.
	ReplyTimeout time.Duration
	// MinInterval paces the reading: at least this long between two
	// reports (or rejections); 0 = 100ms.
	MinInterval time.Duration
	// LogEvery bounds the rejection logs to one per LogEvery; 0 = 30s.
	LogEvery time.Duration
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Redial <= 0 {
		c.Redial = time.Second
	}
	if c.MaxRedial < c.Redial {
		c.MaxRedial = max(5*time.Second, c.Redial)
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.ReplyTimeout <= 0 {
		c.ReplyTimeout = 2 * time.Second
	}
	if c.MinInterval <= 0 {
		c.MinInterval = 100 * time.Millisecond
	}
	if c.LogEvery <= 0 {
		c.LogEvery = 30 * time.Second
	}
}

// Latest is the latest report, checked, and the reader's counters.
type Latest struct {
	Checked wsreport.Checked
	Seq     uint64        // the id of the request it answered
	Uptime  time.Duration // the guest's clock in the report
	Flags   uint16
	At      time.Time // when it arrived; zero: no report yet
	// Received counts the reports taken; Rejected those refused and the
	// runs of garbage skipped (a refused header leaves one behind).
	Received, Rejected uint64
	// Asked counts the requests written; Unanswered those not answered
	// within ReplyTimeout.
	Asked, Unanswered uint64
	Connected         bool
	// Quiet: the Watcher holds no connection and asks nothing until
	// Resume (the guest is being migrated), since QuietAt.
	Quiet   bool
	QuietAt time.Time
}

// Staleness is how old the report was when the Watcher stopped asking
// (quiet), or is now: a migration that quieted the port uses the report
// it had then. The answer to a request in flight, which Quiet waits for,
// arrives after QuietAt: it was new at the quiet (0), not as old as the
// time since.
func (l Latest) Staleness(now time.Time) time.Duration {
	if l.Quiet {
		return max(0, l.QuietAt.Sub(l.At))
	}
	return now.Sub(l.At)
}

// Watcher asks one guest for its reports until Stop.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	id     uint32 // the last request's; the loop's own

	mu     sync.Mutex
	latest Latest
	conn   net.Conn // open now, nil if none
	// changed is closed (and replaced) when Quiet, Resume or the
	// connection change: the loop and Quiet wait on it.
	changed chan struct{}
	// lastLog is when a rejection was last logged; quiet counts those
	// not logged since.
	lastLog time.Time
	quiet   uint64
}

// Start starts a Watcher; it runs until ctx ends or Stop.
func Start(ctx context.Context, cfg Config) *Watcher {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{cfg: cfg, log: cfg.Logger, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
	return w
}

// Stop ends the Watcher and waits for it.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Latest returns the latest report and counters; ok is false before the
// first report.
func (w *Watcher) Latest() (Latest, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, !w.latest.At.IsZero()
}

// Quiet makes the Watcher let go of the guest's port: once the answer to a
// request in flight has arrived (or ctx ends, or the Watcher stops), the
// connection is closed, and nothing is asked until Resume. The latest
// report is kept. A migration calls it before it stops the guest: the
// port's host end then migrates closed, the destination's QEMU has
// nothing to tell the guest, and the guest has nothing to write.
func (w *Watcher) Quiet(ctx context.Context) {
	w.mu.Lock()
	if !w.latest.Quiet {
		w.latest.Quiet, w.latest.QuietAt = true, time.Now()
	}
	w.changedLocked()
	// A guest that never answered will not answer now: no wait (the
	// caller is about to stop it, and the default guest sends none).
	forced := w.latest.Received == 0
	if c := w.conn; forced && c != nil {
		c.Close()
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		c, ch := w.conn, w.changed
		w.mu.Unlock()
		if c == nil {
			return
		}
		select {
		case <-ch:
		case <-w.done:
			return
		case <-ctx.Done():
			if !forced {
				forced = true
				c.Close() // the loop's read fails at once and it lets go
			}
		}
	}
}

// Resume ends Quiet: the Watcher connects and asks again.
func (w *Watcher) Resume() {
	w.mu.Lock()
	w.latest.Quiet = false
	w.changedLocked()
	w.mu.Unlock()
}

func (w *Watcher) changedLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// loud waits until the Watcher is not quiet; false when ctx ended.
func (w *Watcher) loud(ctx context.Context) bool {
	for ctx.Err() == nil {
		w.mu.Lock()
		q, ch := w.latest.Quiet, w.changed
		w.mu.Unlock()
		if !q {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
	return false
}

// run connects, asks until the connection ends or Quiet, and reconnects.
func (w *Watcher) run(ctx context.Context) {
	var d net.Dialer
	failing := false
	redial := w.cfg.Redial
	for w.loud(ctx) {
		c, err := d.DialContext(ctx, "unix", w.cfg.Socket)
		if err != nil {
			if !failing && ctx.Err() == nil {
				w.log.Debug("working-set port not reachable, retrying", "socket", w.cfg.Socket, "err", err)
			}
			failing = true
		} else {
			failing = false
			w.setConn(c)
			answered, err := w.ask(ctx, c)
			c.Close()
			w.setConn(nil)
			switch {
			case answered:
				redial = w.cfg.Redial
			case errors.Is(err, os.ErrDeadlineExceeded):
				redial = min(2*redial, w.cfg.MaxRedial)
			}
			if err == nil {
				continue // quiet: wait for Resume
			}
			if ctx.Err() == nil {
				w.log.Debug("working-set port closed", "socket", w.cfg.Socket, "err", err, "redial", redial)
			}
		}
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(redial):
		case <-ch: // Quiet or Resume: look again at once
		}
	}
}

func (w *Watcher) setConn(c net.Conn) {
	w.mu.Lock()
	w.conn = c
	w.latest.Connected = c != nil
	w.changedLocked()
	w.mu.Unlock()
}

// ask asks for a report every Interval and takes the answers, until c
// fails (its error) or the Watcher is told to be quiet (nil); answered:
// the guest answered a request on c.
func (w *Watcher) ask(ctx context.Context, c net.Conn) (answered bool, err error) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sc := wsreport.NewScanner(c)
	var req []byte
	for {
		w.mu.Lock()
		quiet, ch := w.latest.Quiet, w.changed
		w.mu.Unlock()
		if quiet {
			return answered, nil
		}
		w.id++
		req = wsreport.AppendRequest(req[:0], w.id)
		c.SetWriteDeadline(time.Now().Add(w.cfg.ReplyTimeout))
		if _, err := c.Write(req); err != nil {
			return answered, err
		}
		w.count(func(l *Latest) { l.Asked++ })
		if err := w.await(ctx, c, sc, w.id); err != nil {
			return answered, err
		}
		answered = true
		select {
		case <-ctx.Done():
			return answered, ctx.Err()
		case <-time.After(w.cfg.Interval):
		case <-ch: // Quiet (or a change of no interest): look again
		}
	}
}

// await reads until the answer to request id, taking every report on the
// way (a late answer to an earlier request is a report too).
func (w *Watcher) await(ctx context.Context, c net.Conn, sc *wsreport.Scanner, id uint32) error {
	c.SetReadDeadline(time.Now().Add(w.cfg.ReplyTimeout))
	for {
		t0 := time.Now()
		r, err := sc.Next()
		switch {
		case errors.Is(err, wsreport.ErrMalformed):
			w.rejected(err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			w.count(func(l *Latest) { l.Unanswered++ })
			return err
		case err != nil:
			return err
		default:
			w.take(r)
			if r.Seq == uint64(id) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.cfg.MinInterval - time.Since(t0)):
		}
	}
}
