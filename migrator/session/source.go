package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// source is the state of one running source session.
type source struct {
	cfg  SourceConfig
	log  *slog.Logger
	rec  *record
	pcfg policy.Config
	pol  *policy.Policy
	// passLogged is the last pass logged (sample).
	passLogged int

	conn         Conn
	ctl          Stream
	in           <-chan control
	events       <-chan qmpx.Event // the source QEMU's, for the session's life
	attempts     int               // post-copy recovery attempts (Recover.Attempt)
	recovered    int               // post-copy streams resumed
	restarted    bool              // FinishPostcopy: the agent that began the migration died
	conn0        Conn              // the connection the migration began on, its counters then sent0, recv0
	sent0, recv0 uint64

	phase sourcePhase // advance moves it
	// Facts the phase does not tell:
	postcopy     bool            // post-copy started: no way back, whatever the destination says
	completed    bool            // QEMU completed: the source QEMU may quit
	summary      <-chan struct{} // closed once readSummary is done (nil: not started)
	destAborted  bool            // the destination sent Abort: it has no guest
	agentStopped bool            // stopGuest stopped the guest (not QEMU)
	// endBlackout ends this guest's blackout (Blackouts), leaveBlackouts
	// this migration's part in others'; both at once, and only once.
	endBlackout, leaveBlackouts func()
	begun                       bool // Handoff.Begin succeeded: the record carries its account

	bandwidth   uint64            // the pace of QEMU's channels now (gate.setRate); 0: unpaced
	gate        *gate             // paces QEMU's channels, and holds them while the agent stops the guest
	pause       pauseClock        // the guest's pause on the source: its stop, then the parts
	rxPath      string            // QOM path of the guest's virtio-net (x-query-virtio)
	rxPathTried bool              // rxPath was looked for (once per session)
	handoff     *handoffRun       // the hand-off, once the guest runs at the destination
	destStats   *api.HandoffStats // from the destination's HandoffDone
	// flushSettled: the wait for the destination's account of the flush
	// is over; what it does not confirm counts as api.DropFlushUnconfirmed.
	flushSettled bool
	codecs       codecSet // the page coders of QEMU's channels
	// prefetch injects the working set's page requests in post-copy (nil:
	// off); pipes is the QEMU channels' context, which it runs in.
	prefetch *prefetch.Injector
	pipes    context.Context
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
	if cfg.FixedPause > 0 {
		s.pcfg.FixedPause = cfg.FixedPause
	}
	s.gate = newGate()
	s.leaveBlackouts, s.endBlackout = cfg.Blackouts.join(s.gate), func() {}
	defer func() { s.endBlackout(); s.leaveBlackouts() }()
	s.pol = policy.New(s.pcfg)
	s.bandwidth = s.pcfg.InitialBandwidth
	s.gate.setRate(s.bandwidth)
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
	s.pipes = pctx
	s.newPrefetch()
	err := s.run(ctx, pctx)
	for err != nil && s.postcopy && !s.completed && errors.Is(err, api.ErrPeer) {
		// The stream broke in post-copy: resume it, as often as it takes.
		err = s.recoverPostcopy(ctx, pctx, err)
	}
	if err != nil && s.phase < srcCommitted && ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
		// A step cut short by the cancel fails with a bare context error
		// (e.g. "qmp migrate: context canceled"): the cancel's cause is
		// the reason, and decides cancelled versus failed.
		err = fmt.Errorf("%w (during: %v)", context.Cause(ctx), err)
	}
	if s.ctl != nil {
		defer s.ctl.Close()
	}
	s.recordCodec()
	s.recordPrefetch()
	switch {
	case err == nil:
		return s.moved(ctx, s.conn), Moved
	case s.phase < srcCommitted:
		return s.rollback(ctx, err), Stayed
	case s.postcopy && !s.completed:
		// If the destination said Running, the hand-off has happened
		// (it does not wait for post-copy): record it, roll nothing back.
		s.waitHandoff()
		s.flushSettled = true // no account will come from a failed post-copy
		s.handoffStats(true)
		s.recordWire()
		m := s.rec.finish(api.MigrationFailed, fmt.Sprintf("post-copy failed: %v; no rollback once post-copy has started: "+
			"the guest is lost (source QEMU paused, never resumed; check %s)", err, cfg.Request.To))
		s.log.Error("post-copy migration failed", "err", err)
		return m, Lost
	default:
		return s.resolve(ctx, err)
	}
}
