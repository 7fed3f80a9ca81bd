package policy

import (
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Config steers one migration. Zero fields take defaults (see New).
type Config struct {
	InitialBandwidth, MaxBandwidth uint64 // bytes/s
	// Margin is how far above the observed dirty rate the cap is raised
	// (default 0.25).
	Margin         float64
	DowntimeTarget time.Duration
	// StallPasses (K): remaining not shrinking over K passes means not
	// converging (default 4).
	StallPasses int
	// MaxProjected: a projected total time over this means not converging
	// (default CompletionTimeout*3/4).
	MaxProjected      time.Duration
	Postcopy          string // api.PostcopyAuto, PostcopyNever or PostcopyAlways
	CompletionTimeout time.Duration
	TimeoutAction     string // api.TimeoutAbort or api.TimeoutPostcopy
	// AgentSwitchover: the agent, not QEMU, decides when the guest stops.
	// QEMU's downtime-limit is set to its minimum (1 ms), so that QEMU
	// keeps iterating unless a pass leaves almost nothing dirty, and
	// Observe returns KindSwitchover at the first pass boundary where
	// remaining fits DowntimeTarget at the measured rate (QEMU's own rule).
	// The agent can then stop the guest when the hand-off is ready for it
	// (see the session package).
	AgentSwitchover bool
	// FixedPause is the part of the guest's pause that does not shrink
	// with the pages left at the stop: QEMU's completion (device state,
	// the destination's load and its answer), the destination's start and
	// the agents' messages. The agent's switchover leaves the pages only
	// what remains of DowntimeTarget after it (never less than a quarter).
	// Default: the agent's last measure towards the destination, else
	// DefaultFixedPause.
	FixedPause time.Duration
}

// DefaultFixedPause is FixedPause before any move was measured: about what
// an idle TCG guest's completion, start and messages take between two
// agents on one host of two cores under traffic (12-30 ms completion, 4-14
// ms start, 2-6 ms messages).
const DefaultFixedPause = 25 * time.Millisecond

// FromRequest takes a migration request's knobs; its zero fields take
// api.MigrateRequest's defaults (through withDefaults).
func FromRequest(r api.MigrateRequest) Config {
	return Config{
		InitialBandwidth:  uint64(max(r.InitialBandwidth, 0)),
		MaxBandwidth:      uint64(max(r.Bandwidth, 0)),
		DowntimeTarget:    time.Duration(r.DowntimeTarget),
		Postcopy:          r.Postcopy,
		CompletionTimeout: time.Duration(r.CompletionTimeout),
		TimeoutAction:     r.TimeoutAction,
	}.withDefaults()
}

// withDefaults fills zero fields: the request's knobs with
// api.MigrateRequest's defaults (api.Default*), the policy's own here.
func (c Config) withDefaults() Config {
	if c.MaxBandwidth == 0 {
		c.MaxBandwidth = api.DefaultBandwidth
	}
	if c.InitialBandwidth == 0 || c.InitialBandwidth > c.MaxBandwidth {
		c.InitialBandwidth = min(api.DefaultInitialBandwidth, c.MaxBandwidth)
	}
	if c.Margin <= 0 {
		c.Margin = 0.25
	}
	if c.DowntimeTarget <= 0 {
		c.DowntimeTarget = time.Duration(api.DefaultDowntimeTarget)
	}
	if c.StallPasses <= 0 {
		c.StallPasses = 4
	}
	if c.Postcopy == "" {
		c.Postcopy = api.DefaultPostcopy
	}
	if c.CompletionTimeout <= 0 {
		c.CompletionTimeout = time.Duration(api.DefaultCompletionTimeout)
	}
	if c.MaxProjected <= 0 {
		c.MaxProjected = c.CompletionTimeout * 3 / 4
	}
	if c.TimeoutAction == "" {
		c.TimeoutAction = api.DefaultTimeoutAction
	}
	if c.FixedPause <= 0 {
		c.FixedPause = DefaultFixedPause
	}
	return c
}

// mayThrottle reports whether the policy may throttle the guest's CPU.
func (c Config) mayThrottle() bool { return c.Postcopy == api.PostcopyNever }

// Capabilities are the migrate-set-capabilities to set before migrate:
// events (MIGRATION, MIGRATION_PASS), pause-before-switchover,
// postcopy-ram unless post-copy is never used, and auto-converge only when
// the policy may throttle. multifd is the session's choice.
func Capabilities(cfg Config) map[string]bool {
	cfg = cfg.withDefaults()
	return map[string]bool{
		qmpcmd.CapEvents:                true,
		qmpcmd.CapPauseBeforeSwitchover: true,
		qmpcmd.CapPostcopyRAM:           cfg.Postcopy != api.PostcopyNever,
		qmpcmd.CapAutoConverge:          cfg.mayThrottle(),
	}
}

// QEMUMaxBandwidth is QEMU's own max-bandwidth: far above any pace. The
// agent paces QEMU's channels at the policy's bandwidth (the session's
// gate); QEMU's own rate limit would sleep out the rest of each 100 ms
// window instead, which nothing wakes when the guest stops.
const QEMUMaxBandwidth = 1 << 40 // 1 TiB/s

// Parameters are the migrate-set-parameters to set before migrate:
// QEMUMaxBandwidth, the downtime target in ms (1 ms when the agent
// decides the switchover) and, when the policy
// may throttle, auto-converge settings that keep QEMU's own throttling at
// 1% until the policy decides (see the package comment).
// multifd-channels is the session's choice.
func Parameters(cfg Config) qmpcmd.Parameters {
	cfg = cfg.withDefaults()
	limit := max(cfg.DowntimeTarget.Milliseconds(), 1)
	if cfg.AgentSwitchover {
		limit = 1
	}
	p := qmpcmd.Parameters{MaxBandwidth: new(uint64(QEMUMaxBandwidth)), DowntimeLimit: new(limit)}
	if cfg.mayThrottle() {
		p.ThrottleTriggerThreshold = new(100)
		p.CPUThrottleInitial, p.CPUThrottleIncrement, p.MaxCPUThrottle = new(1), new(1), new(1)
		p.CPUThrottleTailslow = new(false)
	}
	return p
}
