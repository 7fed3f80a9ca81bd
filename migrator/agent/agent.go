// Package agent is migratord's engine: it owns the VMs of one host, keeps
// their records in the store, re-adopts running guests after a restart, and
// serves the HTTP/JSON API described in migrator/api together with
// Prometheus metrics.
//
// Guests outlive the agent: stopping the agent drops its QMP connections and
// leaves every guest running; the next agent on the same state dir adopts
// them. A guest found dead at that point is kept as a failed record (reason
// "guest gone while agent was down") until it is deleted, like a guest that
// dies while the agent runs.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/session"
	"github.com/nfhandoff/nfhandoff/migrator/store"
	"github.com/nfhandoff/nfhandoff/migrator/wswatch"
)

// GuestQuerier reads the vnf status of the guest at addr.
type GuestQuerier func(ctx context.Context, addr netip.AddrPort) (api.GuestStatus, error)

// Config configures an Agent.
type Config struct {
	Host    string       // host name, e.g. "hostA" (required)
	Store   *store.Store // state (required)
	Runtime Runtime      // guest launcher (required)
	Logger  *slog.Logger // nil discards
	Version string       // reported by /v1/health and nfh_agent_info

	// QueryGuest reads a guest's vnf status (default: vnfproto.Query).
	QueryGuest GuestQuerier
	// GuestTimeout bounds one guest status query (default 2s).
	GuestTimeout time.Duration
	// StartTimeout bounds one VM start (default 2m).
	StartTimeout time.Duration
	// ProbeImage is the image the accelerator is probed with (default "vnf").
	ProbeImage string

	// Dial connects to another agent for a migration; nil disables
	// migrations (migratord without --quic-listen). Its errors may wrap
	// transport.ErrUnknownPeer, ErrPeerAuth or ErrPeerUnreachable.
	Dial func(ctx context.Context, host string) (session.Conn, error)
	// Handoff is the dataplane: attached to every guest tap, and its part of
	// migrations (default handoff.Nop).
	Handoff handoff.Handoff
	// Peers is the peers file (migratord --peers, read with
	// transport.PeerAddrs): when Handoff is a handoff.TunnelPeers, its
	// hosts are the ones whose tunnelled stragglers the dataplane takes.
	// Read at Serve and before each incoming migration holds its VM; ""
	// (no migrations): none.
	Peers string
	// DialTimeout bounds the synchronous dial of a migration request (default 15s).
	DialTimeout time.Duration
	// Debug are the sessions' test knobs (migratord --debug-*), handed to
	// every source session as they are. Zero in production.
	Debug session.Debug
	// DebugStoreFailAfterArrival makes the store fail every write once an
	// incoming guest runs here (migratord
	// --debug-store-fail-writes-after-arrival: the integration test of a
	// failing store). False in production.
	DebugStoreFailAfterArrival bool

	// Foreign, when set, is a source of guests another engine runs on
	// this host (migratord --libvirt-socket: a libvirt daemon's domains),
	// watched for as long as the agent serves.
	Foreign Foreign
	// Engine, with Foreign, migrates its guests (migratord --libvirt-uri
	// with the daemon's read-write socket): `migrate` moves them with the
	// engine through the agents' pipe, and guests the engine brings here
	// are resumed by the agent once their traffic's hand-off is ready.
	// nil: they are refused.
	Engine session.Engine

	// Collectors are registered on the agent's /metrics registry (e.g. the
	// dataplane's per-VM counters).
	Collectors []prometheus.Collector
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.QueryGuest == nil {
		c.QueryGuest = queryVNF
	}
	if c.GuestTimeout <= 0 {
		c.GuestTimeout = 2 * time.Second
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 2 * time.Minute
	}
	if c.ProbeImage == "" {
		c.ProbeImage = "vnf"
	}
	if c.Handoff == nil {
		c.Handoff = handoff.Nop{}
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 15 * time.Second
	}
}

func (c *Config) validate() error {
	switch {
	case c.Host == "":
		return errors.New("no host name")
	case c.Store == nil:
		return errors.New("no store")
	case c.Runtime == nil:
		return errors.New("no runtime")
	}
	return nil
}

// Agent owns one host's VMs. Create it with New and run it with Serve.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu  sync.Mutex
	vms map[string]*entry
	// foreign are Config.Foreign's guests by name (foreign.go).
	foreign map[string]*foreignGuest
	accel   string
	base    context.Context // set by Serve: the life of the serving agent

	quit     chan struct{} // closed when the agent shuts down
	quitOnce sync.Once
	watchers sync.WaitGroup

	migs     map[string]*liveMigration // running migrations by ID; guarded by mu
	dest     *session.Server
	life     context.Context // destination sessions; ends at shutdown
	endLife  context.CancelFunc
	sessions sync.WaitGroup // source sessions, and settle loops
	// unsettled are the outgoing migrations whose outcome is unknown, by
	// ID (settle); guarded by mu.
	unsettled map[string]*unsettled
	// fixedPause is the last measured fixed part of a guest's pause
	// (api.PauseParts.Fixed) by destination host, smoothed: the next
	// move's policy budgets it. Guarded by mu.
	fixedPause map[string]time.Duration

	peersMu     sync.Mutex  // serializes refreshTunnelPeers
	tunnelPeers tunnelPeers // guarded by peersMu

	writes writer // the record writes, and those the store failed (persist.go)
	gangs  gangs  // the content stores of gangs migrating from here
	// blackouts orders the switchovers of the migrations from here
	blackouts *session.Blackouts
}

// entry is the agent's live view of one VM.
type entry struct {
	op      sync.Mutex // serializes start, stop and failure handling of this VM
	rec     api.VM     // guarded by Agent.mu
	inst    Instance   // nil unless running; guarded by Agent.mu
	gone    bool       // removed from the map; guarded by Agent.mu
	stopped bool       // a Stop is under way or done; guarded by Agent.mu
	// migrating is the ID of the migration this VM takes part in (as
	// source or destination); the VM refuses stop and another migration
	// meanwhile. Guarded by Agent.mu.
	migrating string
	// attached: the hand-off is attached to the guest's tap (Handoff.Attach
	// succeeded); guarded by Agent.mu.
	attached bool
	// ws reads the guest's working-set reports while the agent watches it
	// (nil if it has no port); guarded by Agent.mu.
	ws *wswatch.Watcher
}

// New checks cfg and returns an agent. It touches no guest until Serve.
func New(cfg Config) (*Agent, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	a := &Agent{
		cfg: cfg,
		log: cfg.Logger.With("host", cfg.Host),
		vms: make(map[string]*entry),
		// guests of Config.Foreign
		foreign: make(map[string]*foreignGuest),
		quit:    make(chan struct{}),
		migs:    make(map[string]*liveMigration),
		// outcomes to settle
		unsettled: make(map[string]*unsettled),
		blackouts: session.NewBlackouts(),
	}
	if cfg.DebugStoreFailAfterArrival {
		a.log.Warn("debug: the store will fail every write once an incoming guest runs here")
	}
	a.metrics = newMetrics(a)
	for _, c := range cfg.Collectors {
		if err := a.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("agent config: registering a collector: %w", err)
		}
	}
	a.life, a.endLife = context.WithCancel(context.Background())
	a.dest = session.NewServer(session.DestConfig{
		Host: cfg.Host, Agent: destAgent{a}, Handoff: cfg.Handoff, Logger: a.log, Context: a.life, Debug: cfg.Debug,
		Engine: cfg.Engine, WaitAttached: a.waitForeignAttached,
	})
	return a, nil
}

// Accel is the accelerator guests run with, "" until known.
func (a *Agent) Accel() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.accel
}

func (a *Agent) setAccel(accel string) {
	if accel == "" {
		return
	}
	a.mu.Lock()
	old := a.accel
	a.accel = accel
	a.mu.Unlock()
	if old != accel {
		a.metrics.setInfo(a.cfg.Host, a.cfg.Version, accel)
	}
}

// probeAccel learns the accelerator in the background: under auto the
// runtime boots a probe guest, which takes seconds.
func (a *Agent) probeAccel(ctx context.Context) {
	accel, err := a.cfg.Runtime.Accel(ctx, a.cfg.ProbeImage)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("accelerator unknown", "image", a.cfg.ProbeImage, "err", err)
		}
		return
	}
	a.log.Info("accelerator", "accel", accel)
	a.setAccel(accel)
}
