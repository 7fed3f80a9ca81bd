package wsguest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// DefaultPort is the name of the port migratord gives its guests.
const DefaultPort = wsreport.PortName

// Config configures Run.
type Config struct {
	Port string // virtio-serial port name (required)
	Hot  []byte // the working set, reported first after the kernel's packet path
	Bulk []byte // memory touched in part or in order (the working set beyond Hot), reported last
	// MinGap bounds the guest's cost: at most one report per MinGap,
	// however often the host asks; 0 = 100ms.
	MinGap time.Duration
	// WriteTimeout bounds one report's write; 0 = 500ms.
	WriteTimeout time.Duration
	// Retry is the pause before looking again for a missing port or a
	// host end that is closed; 0 = 250ms.
	Retry time.Duration
	// Lies, for tests: answer with these lies in turn (see LieGarbage).
	Lies []string

	sys, dev string                // /sys/class/virtio-ports and /dev; tests change them
	open     func() (*port, error) // tests give their own port
}

func (c *Config) defaults() {
	if c.MinGap <= 0 {
		c.MinGap = 100 * time.Millisecond
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 500 * time.Millisecond
	}
	if c.Retry <= 0 {
		c.Retry = 250 * time.Millisecond
	}
	if c.sys == "" {
		c.sys, c.dev = "/sys/class/virtio-ports", "/dev"
	}
	if c.open == nil {
		c.open = func() (*port, error) { return openPort(c.sys, c.dev, c.Port) }
	}
}

// Run answers the host's requests until ctx ends: each request read from
// the port gets one report (the last of those queued up), carrying the
// request's id as its seq. The guest writes nothing unasked, so its
// port's queues are idle whenever the host does not ask (the agent stops
// asking before a migration stops the guest). A missing port, a closed
// host end or a failed scan is logged once per kind and retried; Run never
// fails the vnf.
func Run(ctx context.Context, cfg Config, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.defaults()
	scan, err := NewScan()
	if err != nil {
		log.Warn("no working-set reports", "err", err)
		return
	}
	defer scan.Close()
	var (
		p       *port
		warned  = map[string]bool{}
		buf     []byte
		last    time.Time
		answers int
	)
	once := func(kind string, err error) {
		if !warned[kind] {
			warned[kind] = true
			log.Warn("working-set report not sent (said once)", "port", cfg.Port, "step", kind, "err", err)
		}
	}
	defer func() {
		if p != nil {
			p.close()
		}
	}()
	for ctx.Err() == nil {
		if p == nil {
			if p, err = cfg.open(); err != nil {
				once("open", err)
				sleep(ctx, cfg.Retry)
				continue
			}
			log.Info("answering working-set requests", "port", cfg.Port, "node", p.path)
		}
		id, err := p.request(ctx)
		switch {
		case errors.Is(err, errNoHost):
			sleep(ctx, cfg.Retry) // nobody asks: look again later
			continue
		case errors.Is(err, errNoRequest):
			continue
		case err != nil:
			once("read", err)
			p.close() // e.g. unplugged: find it again
			p = nil
			continue
		}
		sleep(ctx, cfg.MinGap-time.Since(last))
		t0 := time.Now()
		last = t0
		r, err := scan.Report(cfg.Hot, cfg.Bulk)
		switch {
		case err == nil && len(cfg.Lies) > 0:
			buf, err = lie(buf[:0], cfg.Lies[answers%len(cfg.Lies)], id, r)
		case err == nil:
			r.Seq = uint64(id)
			buf, err = wsreport.Encode(buf[:0], r)
		}
		if err != nil {
			once("scan", err)
			continue
		}
		if answers++; answers == 1 || answers == 10 {
			// What a report costs the guest, once early, once settled.
			log.Info("working-set report", "answers", answers, "ranges", len(r.Ranges), "hot_ranges", r.Hot,
				"pages", r.Pages(), "bytes", len(buf), "took", time.Since(t0).Round(time.Microsecond))
		}
		if err := p.write(buf, cfg.WriteTimeout); err != nil && !errors.Is(err, errNoHost) {
			once("write", err)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				p.close()
				p = nil
			}
		}
	}
}

// sleep sleeps d (nothing if d <= 0) or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
