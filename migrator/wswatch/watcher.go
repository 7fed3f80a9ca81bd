package wswatch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Config configures a Watcher.
type Config struct {
	Socket   string       // the port's unix socket (required)
	RAMBytes uint64       // the guest's RAM, for wsreport.Validate
	Logger   *slog.Logger // nil discards
	// Redial is the pause before reconnecting; 0 = 1s.
	Redial time.Duration
	// MinInterval paces the reading: at least this long between two
	// reports (or rejections); 0 = 100ms, ten times the vnf's rate.
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
	Seq     uint64
	Uptime  time.Duration // the guest's clock in the report
	Flags   uint16
	At      time.Time // when it arrived; zero: no report yet
	// Received counts the reports taken; Rejected those refused and the
	// runs of garbage skipped (a refused header leaves one behind).
	Received, Rejected uint64
	Connected          bool
}

// Watcher reads one guest's reports until Stop.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	latest Latest
	// lastLog is when a rejection was last logged; quiet counts those
	// not logged since.
	lastLog time.Time
	quiet   uint64
}

// Start starts a Watcher; it runs until ctx ends or Stop.
func Start(ctx context.Context, cfg Config) *Watcher {
	cfg.defaults()
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{cfg: cfg, log: cfg.Logger, cancel: cancel, done: make(chan struct{})}
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

// run connects, reads until the connection ends, and reconnects.
func (w *Watcher) run(ctx context.Context) {
	var d net.Dialer
	failing := false
	for ctx.Err() == nil {
		c, err := d.DialContext(ctx, "unix", w.cfg.Socket)
		if err != nil {
			if !failing && ctx.Err() == nil {
				w.log.Debug("working-set port not reachable, retrying", "socket", w.cfg.Socket, "err", err)
			}
			failing = true
		} else {
			failing = false
			w.read(ctx, c)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.cfg.Redial):
		}
	}
}

// read takes reports from c until it fails or ctx ends.
func (w *Watcher) read(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	w.setConnected(true)
	defer w.setConnected(false)
	sc := wsreport.NewScanner(c)
	for {
		t0 := time.Now()
		r, err := sc.Next()
		switch {
		case errors.Is(err, wsreport.ErrMalformed):
			w.rejected(err)
		case err != nil:
			if ctx.Err() == nil {
				w.log.Debug("working-set port closed", "socket", w.cfg.Socket, "err", err)
			}
			return
		default:
			w.take(r)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.cfg.MinInterval - time.Since(t0)):
		}
	}
}
