package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfhandoff/nfhandoff/dataplane"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// defaultPinRoot is where --bpf-pin-dir defaults to: <root>/<name>.
const defaultPinRoot = "/sys/fs/bpf/nfhandoff"

// handoffOptions are the eBPF dataplane's flags.
type handoffOptions struct {
	noDataplane    bool
	uplink, pinDir string
	networkUplinks map[string]string // --network's uplinks, by network
	tunnelDev      string
	ringBytes      int64
	bufferBytes    int64
	garpCount      int
	garpInterval   time.Duration
	forwardGrace   time.Duration
	replayRate     float64
	replayBurst    int
}

// dataplaneConfig is the dataplane.Config the flags describe.
func (o handoffOptions) dataplaneConfig(log *slog.Logger) dataplane.Config {
	return dataplane.Config{
		PinDir: o.pinDir, Uplink: o.uplink, NetworkUplinks: o.networkUplinks, TunnelDev: o.tunnelDev,
		RingBytes: int(o.ringBytes), QueueBytes: o.bufferBytes,
		GARPCount: o.garpCount, GARPInterval: o.garpInterval, ForwardGrace: o.forwardGrace,
		ReplayRate: o.replayRate, ReplayBurst: o.replayBurst,
		Logger: log.With("component", "dataplane"),
	}
}

// startDataplane loads and attaches the eBPF dataplane (unless
// --no-dataplane) and returns the agent's Handoff, the collectors for
// /metrics and what to close on exit.
func startDataplane(ctx context.Context, o handoffOptions, log *slog.Logger) (handoff.Handoff, []prometheus.Collector, io.Closer, error) {
	if o.noDataplane {
		log.Warn("running without the eBPF dataplane (--no-dataplane): packets are not buffered during migrations")
		return handoff.Nop{}, nil, nopCloser{}, nil
	}
	dp, err := dataplane.New(ctx, o.dataplaneConfig(log))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting the eBPF dataplane (pins %s; --no-dataplane runs without): %w", o.pinDir, err)
	}
	return dp.Handoff(), []prometheus.Collector{dp.Collector()}, dp, nil
}

// defaultPinDir is --bpf-pin-dir's default for host name.
func defaultPinDir(name string) string { return filepath.Join(defaultPinRoot, name) }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// check refuses values no dataplane takes.
func (o handoffOptions) check() error {
	switch {
	case o.garpCount < 0:
		return fmt.Errorf("--garp-count %d: want >= 0", o.garpCount)
	case o.garpInterval < 0 || o.forwardGrace < 0:
		return fmt.Errorf("--garp-interval and --forward-grace cannot be negative")
	case o.ringBytes&(o.ringBytes-1) != 0 || o.ringBytes < 4096:
		return fmt.Errorf("--ring-bytes %d: want a power of two of at least 4096", o.ringBytes)
	case o.replayRate < 0:
		return fmt.Errorf("--replay-rate %g: want >= 0 (0: automatic)", o.replayRate)
	case o.replayBurst < 1:
		return fmt.Errorf("--replay-burst %d: want >= 1", o.replayBurst)
	case o.bufferBytes <= 0:
		return fmt.Errorf("--buffer-bytes %d: want > 0", o.bufferBytes)
	}
	return nil
}
