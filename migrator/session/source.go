package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// ErrCancelled is the cancel cause of a migration cancelled by the
// operator: its record ends "cancelled" rather than "failed".
var ErrCancelled = errors.New("cancelled by request")

// Outcome says where the guest is after RunSource.
type Outcome int

const (
	// Stayed: the guest runs on the source, as before.
	Stayed Outcome = iota
	// Moved: the guest runs at the destination; the source QEMU has quit.
	Moved
	// Unknown: the guest is paused on the source and the destination may
	// run it; an operator must check (the source never resumes it).
	Unknown
	// Lost: post-copy failed; the source QEMU holds a stale guest that
	// must never resume.
	Lost
)

func (o Outcome) String() string {
	return [...]string{"stayed", "moved", "unknown", "lost"}[o]
}

// SourceConfig configures the source end of one migration.
type SourceConfig struct {
	ID      string             // migration ID, "<source host>-<n>"
	Host    string             // this agent's host name
	Request api.MigrateRequest // defaults filled and validated
	Spec    api.VMSpec
	Guest   Guest
	Dir     string // the VM's directory, where migrate.sock goes
	// Conn is the connection to Request.To; if nil, Dial makes it.
	Conn Conn
	// Dial connects to Request.To (again, after a connection loss).
	Dial    func(ctx context.Context) (Conn, error)
	Handoff handoff.Handoff // nil: handoff.Nop
	Record  Recorder        // receives the record as it changes
	Logger  *slog.Logger
	// Started is the record's start time (default now).
	Started time.Time

	// Debug are test-only knobs; zero in production.
	Debug Debug

	ReadyTimeout   time.Duration // Hello until Ready (default 2m)
	HandoffTimeout time.Duration // waiting for the destination's HandoffDone (default 30s)
	OutcomeTimeout time.Duration // asking the destination after a loss past Commit (default 2m)
	Poll           time.Duration // query-migrate interval (default 200ms)
}

func (c *SourceConfig) defaults() {
	if c.Handoff == nil {
		c.Handoff = handoff.Nop{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Started.IsZero() {
		c.Started = time.Now().UTC()
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 2 * time.Minute
	}
	if c.OutcomeTimeout <= 0 {
		c.OutcomeTimeout = 2 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.HandoffTimeout <= 0 {
		c.HandoffTimeout = 30 * time.Second
	}
}

// source is the state of one running source session.
type source struct {
	cfg  SourceConfig
	log  *slog.Logger
	rec  *record
	pcfg policy.Config
	pol  *policy.Policy

	conn         Conn
	ctl          Stream
	in           <-chan control
	sent0, recv0 uint64

	phase sourcePhase
	// Facts the phase does not tell:
	postcopy    bool // post-copy started: no way back, whatever the destination says
	completed   bool // QEMU completed: the source QEMU may quit
	destAborted bool // the destination sent Abort: it has no guest
	bandwidth   uint64

	gate         *gate     // holds QEMU's channels while the agent stops the guest
	stoppedAt    time.Time // when the guest stopped on the source (agent or QEMU)
	rxPath       string    // QOM path of the guest's virtio-net (x-query-virtio)
	rxPathTried  bool
	agentStopped bool              // stopGuest stopped the guest (not QEMU)
	begun        bool              // Handoff.Begin succeeded
	handoff      *handoffRun       // the hand-off, once the guest runs at the destination
	destStats    *api.HandoffStats // from the destination's HandoffDone
}

// control is one message read from the control stream, or its end.
type control struct {
	msg any
	err error
}

// readControl reads control messages until the stream ends; the last item
// carries the error (io.EOF for a clean end).
func readControl(s Stream) <-chan control {
	ch := make(chan control, 8)
	go func() {
		defer close(ch)
		for {
			m, err := wire.ReadMessage(s)
			if err != nil {
				ch <- control{err: err}
				return
			}
			ch <- control{msg: m}
		}
	}()
	return ch
}

// RunSource migrates cfg.Guest to cfg.Request.To and returns the final
// record and where the guest is. Cancel ctx (with context.WithCancelCause;
// ErrCancelled for an operator's cancel) to abort: before Commit the guest
// keeps running on the source.
func RunSource(ctx context.Context, cfg SourceConfig) (api.Migration, Outcome) {
	cfg.defaults()
	s := &source{cfg: cfg, log: cfg.Logger.With("migration", cfg.ID, "vm", cfg.Spec.Name, "to", cfg.Request.To)}
	s.pcfg = policy.FromRequest(cfg.Request)
	_, s.pcfg.AgentSwitchover = cfg.Handoff.(handoff.Quiescer)
	s.gate = newGate()
	s.pol = policy.New(s.pcfg)
	s.bandwidth = s.pcfg.InitialBandwidth
	s.rec = newRecord(api.Migration{
		ID: cfg.ID, VM: cfg.Spec.Name, From: cfg.Host, To: cfg.Request.To, Role: "source",
		State: api.MigrationSetup, Request: cfg.Request, Started: cfg.Started,
		Progress: api.Progress{Bandwidth: s.bandwidth},
	}, cfg.Record)
	s.rec.phase("setup", cfg.Started)
	s.log.Info("migration starting", "postcopy", cfg.Request.Postcopy, "bandwidth", cfg.Request.Bandwidth,
		"multifd", cfg.Request.Multifd())

	pctx, stopPipes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipes()
	err := s.run(ctx, pctx)
	if err != nil && s.phase < srcCommitted && ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
		// A step cut short by the cancel fails with a bare context error
		// (e.g. "qmp migrate: context canceled"): the cancel's cause is
		// the reason, and decides cancelled versus failed.
		err = fmt.Errorf("%w (during: %v)", context.Cause(ctx), err)
	}
	if s.ctl != nil {
		defer s.ctl.Close()
	}
	switch {
	case err == nil:
		return s.moved(ctx, s.conn), Moved
	case s.phase < srcCommitted:
		return s.rollback(ctx, err), Stayed
	case s.postcopy:
		// If the destination said Running, the hand-off has happened
		// (it does not wait for post-copy): record it, roll nothing back.
		s.waitHandoff()
		s.handoffStats(true)
		m := s.rec.finish(api.MigrationFailed, fmt.Sprintf("post-copy failed: %v; no rollback once post-copy has started: "+
			"the guest is lost (source QEMU paused, never resumed; check %s)", err, cfg.Request.To))
		s.log.Error("post-copy migration failed", "err", err)
		return m, Lost
	default:
		return s.resolve(ctx, err)
	}
}

// run does steps 2-5 until the guest runs at the destination. pctx bounds
// the QEMU channel pipes.
func (s *source) run(ctx, pctx context.Context) error {
	cfg := s.cfg
	to := cfg.Request.To
	conn := cfg.Conn
	if conn == nil {
		var err error
		if conn, err = cfg.Dial(ctx); err != nil {
			return fmt.Errorf("%w: dialing %s: %w", api.ErrPeer, to, err)
		}
	}
	s.conn = conn
	s.sent0, s.recv0 = conn.Stats()
	ctl, err := conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: cfg.ID})
	if err != nil {
		return fmt.Errorf("%w: opening control stream to %s: %w", api.ErrPeer, to, err)
	}
	s.ctl, s.in = ctl, readControl(ctl)

	caps := policy.Capabilities(s.pcfg)
	caps[qmpcmd.CapEvents], caps[qmpcmd.CapPauseBeforeSwitchover] = true, true
	params := policy.Parameters(s.pcfg)
	if n := cfg.Request.Multifd(); n > 0 {
		caps[qmpcmd.CapMultifd] = true
		params.MultifdChannels = new(n)
	}
	hello := wire.Hello{ID: cfg.ID, Source: cfg.Host, Spec: cfg.Spec, Request: cfg.Request,
		Capabilities: caps, MultifdChannels: cfg.Request.Multifd()}
	if err := wire.WriteMessage(ctl, hello); err != nil {
		return fmt.Errorf("%w: sending hello to %s: %w", api.ErrPeer, to, err)
	}
	if err := s.waitReady(ctx); err != nil {
		return err
	}

	if err := setCapabilities(ctx, cfg.Guest, caps); err != nil {
		return fmt.Errorf("%w: %w", api.ErrQEMU, err)
	}
	if err := cfg.Guest.Execute(ctx, qmpcmd.MigrateSetParameters, params, nil); err != nil {
		return fmt.Errorf("%w: setting migration parameters: %w", api.ErrQEMU, err)
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	sock := filepath.Join(cfg.Dir, "migrate.sock")
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listening for qemu's migration stream: %w", err)
	}
	defer func() {
		ln.Close()
		os.Remove(sock)
	}()
	go s.acceptChannels(pctx, ln)

	evctx, evcancel := context.WithCancel(ctx)
	defer evcancel()
	events := cfg.Guest.Events(evctx)
	if err := cfg.Guest.Execute(ctx, qmpcmd.Migrate, qmpcmd.UnixURI(sock), nil); err != nil {
		if ctx.Err() != nil {
			// Cancelled with the command in flight: QEMU may have
			// started migrating, so the rollback must migrate_cancel.
			s.advance(srcMigrating)
		}
		return fmt.Errorf("%w: starting migration: %w", api.ErrQEMU, err)
	}
	s.advance(srcMigrating)
	return s.loop(ctx, events)
}

// waitReady waits for the destination's Ready.
func (s *source) waitReady(ctx context.Context) error {
	timer := time.NewTimer(s.cfg.ReadyTimeout)
	defer timer.Stop()
	to := s.cfg.Request.To
	select {
	case c, ok := <-s.in:
		if !ok || c.err != nil {
			return fmt.Errorf("%w: %s closed the control stream before ready: %v", api.ErrPeer, to, c.err)
		}
		switch m := c.msg.(type) {
		case wire.Ready:
			s.log.Info("destination ready", "dest_pid", m.PID)
			return nil
		case wire.Abort:
			s.destAborted = true
			return fmt.Errorf("%w: %s refused: %s", api.ErrPeer, to, m.Reason)
		default:
			return fmt.Errorf("%w: %s sent %T before ready", api.ErrPeer, to, m)
		}
	case <-timer.C:
		return fmt.Errorf("%w: %s not ready after %v", api.ErrPeer, to, s.cfg.ReadyTimeout)
	case <-s.conn.Context().Done():
		return fmt.Errorf("%w: connection to %s lost before ready", api.ErrPeer, to)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// acceptChannels turns each connection QEMU opens into a QEMU stream, in
// accept order: 0 is the main channel.
func (s *source) acceptChannels(ctx context.Context, ln net.Listener) {
	for i := 0; ; i++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		st, err := s.conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: s.cfg.ID, Channel: uint16(i)})
		if err != nil {
			s.log.Warn("opening qemu stream", "channel", i, "err", err)
			c.Close()
			continue
		}
		s.log.Debug("qemu channel open", "channel", i)
		go func(i int) {
			sent, recv, err := pipe(ctx, c, st, s.gate)
			s.log.Debug("qemu channel done", "channel", i, "sent", sent, "received", recv, "err", err)
		}(i)
	}
}
