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
	Port     string        // virtio-serial port name (required)
	Hot      []byte        // the working set, reported first
	Interval time.Duration // between reports; 0 = 1s
	// WriteTimeout bounds one report's write; 0 = half the interval.
	WriteTimeout time.Duration

	sys, dev string // /sys/class/virtio-ports and /dev; tests change them
}

// Run writes a report at once, then every interval, until ctx ends. A
// missing port, a closed host end or a failed scan is logged once per
// kind and retried at the next report; Run never fails the vnf.
func Run(ctx context.Context, cfg Config, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = cfg.Interval / 2
	}
	if cfg.sys == "" {
		cfg.sys, cfg.dev = "/sys/class/virtio-ports", "/dev"
	}
	scan, err := NewScan()
	if err != nil {
		log.Warn("no working-set reports", "err", err)
		return
	}
	defer scan.Close()
	var (
		p      *port
		warned = map[string]bool{}
		buf    []byte
	)
	once := func(kind string, err error) {
		if !warned[kind] {
			warned[kind] = true
			log.Warn("working-set report not sent (said once)", "port", cfg.Port, "step", kind, "err", err)
		}
	}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		if p == nil {
			if p, err = openPort(cfg.sys, cfg.dev, cfg.Port); err != nil {
				once("open", err)
			} else {
				log.Info("sending working-set reports", "port", cfg.Port, "node", p.path)
			}
		}
		if p != nil {
			t0 := time.Now()
			r, err := scan.Report(cfg.Hot)
			if err == nil {
				buf, err = wsreport.Encode(buf[:0], r)
			}
			if err == nil && (r.Seq == 1 || r.Seq == 10) {
				// What a report costs the guest, once early, once settled.
				log.Info("working-set report", "seq", r.Seq, "ranges", len(r.Ranges), "hot_ranges", r.Hot,
					"pages", r.Pages(), "bytes", len(buf), "took", time.Since(t0).Round(time.Microsecond))
			}
			if err != nil {
				once("scan", err)
			} else if err := p.write(buf, cfg.WriteTimeout); err != nil && !errors.Is(err, errNoHost) {
				once("write", err)
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					p.close() // e.g. unplugged: find it again
					p = nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if p != nil {
				p.close()
			}
			return
		case <-t.C:
		}
	}
}
