package dataplane

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Defaults of Config.
const (
	DefaultTunnelDev    = "nfhvx0"
	DefaultTunnelPort   = 4789
	DefaultRingBytes    = 8 << 20
	DefaultQueueBytes   = 64 << 20
	DefaultGARPCount    = 5
	DefaultGARPInterval = 20 * time.Millisecond
	DefaultForwardGrace = 10 * time.Second
	DefaultReplayBurst  = 256  // frames injected at once before pacing starts (a virtio ring's worth)
	DefaultReplayMin    = 1000 // frames/s: the automatic replay rate is never below this
	ReplayFactor        = 2    // automatic replay rate: this times the rate the frames were captured at

	// VNI is the VXLAN network identifier of forwarded frames ("NF").
	VNI = 0x4e46
)

// Config of a host's dataplane.
type Config struct {
	PinDir string // bpffs dir for pinned maps and links, e.g. /run/nfhandoff/bpffs/hostA (required)
	Uplink string // host uplink interface for stragglers and the default network's gratuitous ARPs ("" = none)
	// NetworkUplinks are the uplinks of the host's further networks (by
	// network name, see api.NIC): a NIC on one of them is announced there.
	// A network without one gets no gratuitous ARP.
	NetworkUplinks map[string]string
	TunnelDev      string        // VXLAN device (default "nfhvx0"), created if missing
	TunnelPort     int           // VXLAN UDP port (default 4789)
	RingBytes      int           // BPF ring size (default 8 MiB; a power of two, at least a page)
	QueueBytes     int64         // user-space queue bound per VM (default 64 MiB)
	GARPCount      int           // gratuitous ARPs on resume (default 5)
	GARPInterval   time.Duration // first interval, doubled each time (default 20ms)
	ForwardGrace   time.Duration // how long FORWARD stays at the source after a move (default 10s)
	// ReplayRate paces the injection of queued frames into a tap (the
	// destination's release, the source's rollback), in frames/s, after a
	// burst of ReplayBurst frames. 0: automatic, ReplayFactor times the rate
	// the frames were captured at, at least DefaultReplayMin; so a backlog
	// drains while new traffic waits behind it, at a pace the guest takes.
	ReplayRate  float64
	ReplayBurst int          // default 256
	ForceClsact bool         // attach with clsact even if tcx works (tests)
	Logger      *slog.Logger // nil: discard
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	orDefault(&c.TunnelDev, DefaultTunnelDev)
	orDefault(&c.TunnelPort, DefaultTunnelPort)
	orDefault(&c.RingBytes, DefaultRingBytes)
	orDefault(&c.QueueBytes, DefaultQueueBytes)
	orDefault(&c.GARPCount, DefaultGARPCount)
	orDefault(&c.GARPInterval, DefaultGARPInterval)
	orDefault(&c.ForwardGrace, DefaultForwardGrace)
	orDefault(&c.ReplayBurst, DefaultReplayBurst)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// orDefault sets *p to def if it is zero.
func orDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// validate checks a Config that has its defaults.
func (c Config) validate() error {
	if c.PinDir == "" {
		return errors.New("config: PinDir is required")
	}
	if c.TunnelPort < 1 || c.TunnelPort > 65535 {
		return fmt.Errorf("config: TunnelPort %d out of range", c.TunnelPort)
	}
	if c.RingBytes < 4096 || c.RingBytes&(c.RingBytes-1) != 0 {
		return fmt.Errorf("config: RingBytes %d is not a power of two of at least 4096", c.RingBytes)
	}
	if c.QueueBytes < 0 {
		return fmt.Errorf("config: QueueBytes %d is negative", c.QueueBytes)
	}
	if c.GARPCount < 0 || c.GARPInterval < 0 || c.ForwardGrace < 0 {
		return errors.New("config: GARPCount, GARPInterval and ForwardGrace must not be negative")
	}
	if c.ReplayRate < 0 || c.ReplayBurst < 0 {
		return errors.New("config: ReplayRate and ReplayBurst must not be negative")
	}
	if len(c.TunnelDev) > 15 {
		return fmt.Errorf("config: TunnelDev %q longer than 15 characters", c.TunnelDev)
	}
	for n, dev := range c.NetworkUplinks {
		if n == "" || dev == "" || len(dev) > 15 {
			return fmt.Errorf("config: network %q: uplink %q: want a network name and a device name of 1-15 characters", n, dev)
		}
	}
	return nil
}

// uplinkOf is the uplink of host network network ("" is the default one's).
func (c Config) uplinkOf(network string) string {
	if network == "" {
		return c.Uplink
	}
	return c.NetworkUplinks[network]
}

// replayRate is the pace of a replay of frames captured at rate
// (frames/s): the configured rate, or the automatic one.
func (c Config) replayRate(captured float64) float64 {
	if c.ReplayRate > 0 {
		return c.ReplayRate
	}
	return max(ReplayFactor*captured, DefaultReplayMin)
}

// Hook names: the program attached, and where (a tap's egress, the
// uplink's and the tunnel's ingress); a tcx link is pinned under its name
// (tchook.LinkPin).
const (
	HookTapEgress     = "tap_egress"
	HookUplinkIngress = "uplink_ingress"
	HookTunnelIngress = "tunnel_ingress"
)
