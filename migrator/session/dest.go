package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// channel is one QEMU stream for a destination session.
type channel struct {
	index uint16
	st    Stream
}

// dest is one destination session.
type dest struct {
	srv   *Server
	cfg   DestConfig
	hello wire.Hello
	conn  Conn
	ctl   Stream
	log   *slog.Logger
	rec   *record
	chans chan channel
	flush chan Stream

	guest    Guest
	postcopy bool // the guest started here with the incoming migration in post-copy

	mu     sync.Mutex // guards phase and reason: status requests read them
	phase  destPhase
	reason string // why it failed
}

func newDest(s *Server, c Conn, st Stream, h wire.Hello) *dest {
	return &dest{
		srv: s, cfg: s.cfg, hello: h, conn: c, ctl: st,
		log:   s.log.With("migration", h.ID, "vm", h.Spec.Name, "from", h.Source),
		chans: make(chan channel, 32),
		flush: make(chan Stream, 1),
	}
}

// run does the destination's part: prepare, receive, start the guest on
// Commit, take the flush.
func (d *dest) run(ctx context.Context) {
	h := d.hello
	now := time.Now().UTC()
	d.rec = newRecord(api.Migration{
		ID: h.ID, VM: h.Spec.Name, From: h.Source, To: d.cfg.Host, Role: "destination",
		State: api.MigrationSetup, Request: h.Request, Started: now,
	}, d.cfg.Agent.Record)
	d.rec.phase("setup", now)
	defer d.ctl.Close()
	if peer := d.conn.Peer(); peer != h.Source {
		d.refuse(fmt.Errorf("%w: certificate names %q but hello claims source %q", api.ErrPeer, peer, h.Source))
		return
	}
	if h.Request.To != d.cfg.Host {
		d.refuse(fmt.Errorf("%w: request is for host %q, this is %q", api.ErrInvalidRequest, h.Request.To, d.cfg.Host))
		return
	}
	if err := d.cfg.Agent.Admit(h.Spec); err != nil {
		d.refuse(err)
		return
	}
	d.enter(destAdmitted, "")
	d.log.Info("incoming migration")

	pctx, stopPipes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipes()
	if err := d.prepare(ctx, pctx); err != nil {
		d.fail(ctx, err)
		return
	}
	if err := d.receive(ctx); err != nil {
		d.fail(ctx, err)
		return
	}
	d.running(ctx)
}

// refuse answers a Hello this host will not take.
func (d *dest) refuse(err error) {
	d.log.Warn("migration refused", "err", err)
	d.enter(destFailed, err.Error())
	wire.WriteMessage(d.ctl, wire.Abort{Reason: truncate(d.cfg.Host + " refused: " + err.Error())})
	d.ctl.CloseWrite()
	d.rec.finish(api.MigrationFailed, "refused: "+err.Error())
}

// prepare holds the VM's packets, starts QEMU waiting for the stream and
// answers Ready.
func (d *dest) prepare(ctx, pctx context.Context) error {
	h := d.hello
	d.enter(destPrepared, "") // before Prepare: a failed Prepare rolls back too
	err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Prepare(ctx, h.Spec)
	})
	if err != nil {
		return fmt.Errorf("%w: hand-off prepare: %w", api.ErrMigration, err)
	}
	g, dir, err := d.cfg.Agent.Launch(ctx, h.Spec)
	if err != nil {
		return err
	}
	d.guest = g
	if err := setCapabilities(ctx, g, h.Capabilities); err != nil {
		return fmt.Errorf("%w: %w", api.ErrQEMU, err)
	}
	if h.MultifdChannels > 0 {
		if err := g.Execute(ctx, qmpcmd.MigrateSetParameters, qmpcmd.Parameters{MultifdChannels: new(h.MultifdChannels)}, nil); err != nil {
			return fmt.Errorf("%w: setting multifd channels: %w", api.ErrQEMU, err)
		}
	}
	sock := filepath.Join(dir, "incoming.sock")
	if err := g.Execute(ctx, qmpcmd.MigrateIncoming, qmpcmd.UnixURI(sock), nil); err != nil {
		return fmt.Errorf("%w: migrate-incoming: %w", api.ErrQEMU, err)
	}
	go d.connectChannels(pctx, sock)
	if err := wire.WriteMessage(d.ctl, wire.Ready{}); err != nil {
		return fmt.Errorf("%w: sending ready: %w", api.ErrPeer, err)
	}
	d.rec.phase("precopy", time.Now().UTC())
	d.rec.update(true, func(m *api.Migration) { m.State = api.MigrationActive })
	return nil
}

// connectChannels connects the QEMU streams to the incoming socket
// strictly in channel order: QEMU 7.2 takes the first connection as the
// main channel.
func (d *dest) connectChannels(ctx context.Context, sock string) {
	pending := make(map[uint16]Stream)
	defer func() {
		for _, st := range pending {
			st.Close()
		}
	}()
	var next uint16
	for {
		select {
		case c := <-d.chans:
			if _, dup := pending[c.index]; dup || c.index < next {
				d.log.Warn("duplicate qemu channel", "channel", c.index)
				c.st.Close()
				continue
			}
			pending[c.index] = c.st
		case <-ctx.Done():
			return
		}
		for {
			st, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			var dialer net.Dialer
			conn, err := dialer.DialContext(ctx, "unix", sock)
			if err != nil {
				d.log.Warn("connecting qemu channel", "channel", next, "err", err)
				st.Close()
				next++
				continue
			}
			d.log.Debug("qemu channel connected", "channel", next)
			go func(i uint16) {
				sent, recv, err := pipe(ctx, conn, st, nil)
				d.log.Debug("qemu channel done", "channel", i, "sent", sent, "received", recv, "err", err)
			}(next)
			next++
		}
	}
}

// committedPoll is the destination's poll interval once Commit arrived.
const committedPoll = 5 * time.Millisecond

// receive waits until the guest may start here: the incoming migration is
// complete (or in post-copy with the guest's devices loaded), QEMU is paused,
// and the source has sent Commit. Then it issues cont.
func (d *dest) receive(ctx context.Context) error {
	g := d.guest
	evctx, evcancel := context.WithCancel(ctx)
	defer evcancel()
	events := g.Events(evctx)
	in := readControl(d.ctl)
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	connDone := d.conn.Context().Done()
	var lostAt time.Time // when the source was lost after Commit
	incoming, errDesc, rs := "", "", ""
	refresh := func() {
		var err error
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if incoming, errDesc, err = d.poll(qctx, incoming); err == nil {
			rs, err = runState(qctx, g)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			d.log.Debug("polling destination qemu", "err", err)
		}
	}
	for {
		committed := d.isCommitted()
		if committed && rs == qmpcmd.RunStatePaused && (incoming == qmpcmd.MigrationCompleted || incoming == qmpcmd.MigrationPostcopyActive) {
			break
		}
		if incoming == qmpcmd.MigrationFailed || incoming == qmpcmd.MigrationCancelled {
			err := fmt.Errorf("%w: incoming migration %s", api.ErrQEMU, incoming)
			if errDesc != "" {
				err = fmt.Errorf("%w: %s", err, errDesc)
			}
			if committed {
				return err
			}
			return d.sourceReason(ctx, in, err)
		}
		if !lostAt.IsZero() && time.Since(lostAt) > d.cfg.CommitTimeout {
			return fmt.Errorf("%w: source lost after commit and the incoming migration did not finish within %v (status %q)",
				api.ErrPeer, d.cfg.CommitTimeout, incoming)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: agent shutting down", api.ErrMigration)
		case <-g.Done():
			return fmt.Errorf("%w: destination qemu exited", api.ErrQEMU)
		case <-connDone:
			connDone = nil
			if !committed {
				return fmt.Errorf("%w: connection to %s lost", api.ErrPeer, d.hello.Source)
			}
			lostAt = time.Now()
			d.log.Warn("connection to the source lost after commit; finishing the incoming migration")
		case c, ok := <-in:
			if !ok || c.err != nil {
				in = nil
				if !committed {
					return fmt.Errorf("%w: control stream from %s ended: %v", api.ErrPeer, d.hello.Source, c.err)
				}
				if lostAt.IsZero() {
					lostAt = time.Now()
				}
				continue
			}
			switch m := c.msg.(type) {
			case wire.Commit:
				d.enter(destCommitted, "")
				d.log.Info("commit received")
				d.rec.phase("switchover", time.Now().UTC())
				d.rec.update(true, func(m *api.Migration) { m.State = api.MigrationSwitchover })
				// The guest is stopped everywhere now: every poll
				// interval waited here adds to its blackout.
				tick.Reset(committedPoll)
				refresh()
			case wire.Abort:
				return fmt.Errorf("%w: source aborted: %s", api.ErrMigration, m.Reason)
			default:
				return fmt.Errorf("%w: unexpected %T from the source", api.ErrPeer, m)
			}
		case e, ok := <-events:
			if !ok {
				events = nil
			} else if st := eventStatus(e); st != "" {
				incoming = st
				if d.isCommitted() {
					// QEMU sets the run state before it reports completed.
					refresh()
				}
			}
		case <-tick.C:
			refresh()
		}
	}
	d.postcopy = incoming == qmpcmd.MigrationPostcopyActive
	d.log.Info("starting the guest", "incoming", incoming)
	if err := g.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
		return fmt.Errorf("%w: cont: %w", api.ErrQEMU, err)
	}
	// The guest runs here: announce it (GARPs go out in the background).
	if err := bounded(context.WithoutCancel(ctx), 10*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Started(ctx, d.hello.Spec)
	}); err != nil {
		d.log.Warn("hand-off started", "err", err)
	}
	return nil
}

// poll returns query-migrate's status, keeping the last one on error.
func (d *dest) poll(ctx context.Context, last string) (string, string, error) {
	st, desc, err := migrateStatus(ctx, d.guest)
	if err != nil || st == "" {
		return last, desc, err
	}
	return st, desc, nil
}

func (d *dest) isCommitted() bool {
	p, _ := d.state()
	return p == destCommitted
}

// running finishes a session whose guest runs here: hand it to the agent,
// tell the source, take the flush (at once: in post-copy the guest runs
// here while pages still arrive, and its traffic must not wait for them)
// while seeing a post-copy through, then report the hand-off.
func (d *dest) running(ctx context.Context) {
	h := d.hello
	d.enter(destRunning, "")
	if err := d.cfg.Agent.Adopt(h.Spec, d.guest); err != nil {
		d.log.Error("handing the running guest to the agent", "err", err)
	}
	if err := wire.WriteMessage(d.ctl, wire.Running{}); err != nil {
		d.log.Warn("telling the source the guest runs", "err", err)
	}
	d.log.Info("guest running here")
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		d.takeFlush(ctx)
	}()
	var pcErr error
	if d.postcopy {
		d.rec.phase("postcopy", time.Now().UTC())
		d.rec.update(true, func(m *api.Migration) { m.State, m.Postcopy = api.MigrationPostcopy, true })
		pcErr = d.waitPostcopy(ctx)
	}
	if pcErr == nil {
		d.rec.phase("cleanup", time.Now().UTC())
	}
	<-flushed
	if pcErr != nil {
		// The guest ran here and its traffic was handed off: no rollback.
		d.log.Error("post-copy failed after the guest started here", "err", pcErr)
		d.handoffStats()
		d.rec.finish(api.MigrationFailed, "post-copy failed after the guest started here; no rollback: "+pcErr.Error())
		return
	}
	if err := wire.WriteMessage(d.ctl, wire.HandoffDone{Stats: d.handoffStats()}); err != nil {
		d.log.Warn("sending the hand-off report to the source", "err", err)
	}
	d.rec.finish(api.MigrationCompleted, "")
	d.log.Info("incoming migration completed")
}

// takeFlush waits (bounded) for the source's flush stream and lets the
// hand-off inject it and release the HOLD. It runs concurrently with the
// rest of running and touches neither the record nor the control stream.
func (d *dest) takeFlush(ctx context.Context) {
	var flush Stream
	timer := time.NewTimer(d.cfg.FlushTimeout)
	select {
	case flush = <-d.flush:
	case <-timer.C:
		d.log.Warn("no flush stream from the source", "waited", d.cfg.FlushTimeout)
	case <-d.conn.Context().Done():
	case <-ctx.Done():
	}
	timer.Stop()
	err := bounded(context.WithoutCancel(ctx), 30*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Flushed(ctx, d.hello.Spec, flush)
	})
	if err != nil && !errors.Is(err, io.EOF) {
		d.log.Warn("hand-off flushed", "err", err)
	}
	if flush != nil {
		flush.Close()
	}
	d.log.Info("hand-off: flush injected, hold released", "flush", flush != nil)
}

// handoffStats records this end's hand-off account and returns it.
func (d *dest) handoffStats() api.HandoffStats {
	st := d.cfg.Handoff.Stats(d.hello.Spec)
	d.rec.update(true, func(m *api.Migration) { m.Handoff = &api.HandoffReport{Destination: st} })
	return st
}

// waitPostcopy waits for the incoming post-copy migration to complete.
func (d *dest) waitPostcopy(ctx context.Context) error {
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-d.guest.Done():
			return fmt.Errorf("%w: destination qemu exited", api.ErrQEMU)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		st, desc, err := migrateStatus(ctx, d.guest)
		if err != nil {
			continue
		}
		switch st {
		case qmpcmd.MigrationCompleted:
			return nil
		case qmpcmd.MigrationFailed, qmpcmd.MigrationPostcopyPaused, qmpcmd.MigrationCancelled:
			return fmt.Errorf("%w: incoming post-copy %s: %s", api.ErrQEMU, st, desc)
		}
	}
}

// fail cleans up a destination session that failed before its guest ran:
// QEMU and its tap go, the hand-off rolls back, the source is told.
func (d *dest) fail(ctx context.Context, cause error) {
	d.log.Warn("incoming migration failed", "err", cause)
	ctx = context.WithoutCancel(ctx)
	p, _ := d.state()
	if d.guest != nil {
		if err := bounded(ctx, 30*time.Second, d.guest.Stop); err != nil {
			d.log.Error("stopping destination qemu", "err", err)
		}
	}
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Rollback(ctx, d.hello.Spec)
	}); err != nil {
		d.log.Warn("hand-off rollback", "err", err)
	}
	if p >= destPrepared {
		d.handoffStats()
	}
	if p >= destAdmitted {
		d.cfg.Agent.Release(d.hello.Spec)
	}
	d.rec.finish(api.MigrationFailed, cause.Error())
	d.enter(destFailed, cause.Error())
	if err := wire.WriteMessage(d.ctl, wire.Abort{Reason: truncate(d.cfg.Host + ": " + cause.Error())}); err == nil {
		d.ctl.CloseWrite()
	}
}

// abortGrace is how long a destination whose incoming migration failed
// before Commit waits for the source's Abort, which says why.
const abortGrace = 3 * time.Second

// sourceReason returns err, or the source's Abort if it arrives within
// abortGrace: a source that cancels (an operator's cancel, its completion
// timeout) first cancels its QEMU, which breaks the stream and fails the
// incoming migration here, and tells why only after rolling back.
func (d *dest) sourceReason(ctx context.Context, in <-chan control, err error) error {
	if in == nil {
		return err
	}
	t := time.NewTimer(abortGrace)
	defer t.Stop()
	select {
	case c, ok := <-in:
		if ok && c.err == nil {
			if m, ok := c.msg.(wire.Abort); ok {
				return fmt.Errorf("%w: source aborted: %s (here: %v)", api.ErrMigration, m.Reason, err)
			}
		}
	case <-t.C:
	case <-ctx.Done():
	}
	return err
}
