package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// foreignDest is the destination of a foreign guest's migration (see
// RunForeignSource): it holds the guest's traffic, connects the source's
// streams to the socket its engine's QEMU listens on, and on Commit
// resumes the guest, announces it and takes the flush.
type foreignDest struct {
	srv   *Server
	conn  Conn
	ctl   Stream
	hello wire.Hello
	log   *slog.Logger
	rec   *record
	flush chan Stream
	// agentSock is the migration's socket as this agent sees it: the
	// destination QEMU listens on it once the engine prepared the arrival.
	agentSock string
}

// foreignDialWait bounds a QEMU stream's wait for the destination QEMU's
// socket: the engine makes it before the source's engine connects, so it
// is there unless the engine failed.
const foreignDialWait = 30 * time.Second

// foreignDoneTimeout bounds the source's wait for the destination's
// hand-off account.
const foreignDoneTimeout = 30 * time.Second

// startForeign runs the destination of a foreign migration.
func (s *Server) startForeign(ctx context.Context, c Conn, st Stream, h wire.Hello) {
	if s.cfg.Engine == nil {
		s.refuse(st, fmt.Sprintf("%s's agent has no engine for %s guests (migratord runs without --libvirt-uri)", s.cfg.Host, h.Engine))
		return
	}
	s.mu.Lock()
	if reason := s.taken(h.ID); reason != "" {
		s.mu.Unlock()
		s.refuse(st, reason)
		return
	}
	d := &foreignDest{srv: s, conn: c, ctl: st, hello: h, flush: make(chan Stream, 1),
		log: s.log.With("migration", h.ID, "vm", h.Spec.Name, "from", h.Source, "engine", h.Engine)}
	d.rec = newRecord(api.Migration{ID: h.ID, VM: h.Spec.Name, From: h.Source, To: s.cfg.Host, Role: "destination",
		State: api.MigrationSetup, Request: h.Request, Started: time.Now().UTC()}, s.cfg.Agent.Record)
	s.foreign[h.ID] = d
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.foreign, h.ID)
		s.mu.Unlock()
		s.wg.Done()
		st.Close()
	}()
	if err := d.run(ctx); err != nil {
		d.log.Warn("incoming foreign migration failed", "err", err)
		wire.WriteMessage(st, wire.Abort{Reason: truncate(err.Error())})
		st.CloseWrite()
		if rerr := bounded(context.WithoutCancel(ctx), rollbackWait, func(ctx context.Context) error {
			return s.cfg.Handoff.Rollback(ctx, h.Spec)
		}); rerr != nil {
			d.log.Warn("hand-off rollback", "err", rerr)
		}
		d.handoffStats()
		d.rec.finish(api.MigrationFailed, err.Error())
	}
}

func (d *foreignDest) run(ctx context.Context) error {
	cfg := d.srv.cfg
	h := d.hello
	d.rec.phase("setup", time.Now().UTC())
	sockName := h.ID
	if h.EngineSocket != "" {
		sockName = h.EngineSocket // an operator's migration: the standing socket's name
	}
	_, agentSock, err := cfg.Engine.Socket(sockName)
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrMigration, err)
	}
	d.agentSock = agentSock
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error { return cfg.Handoff.Prepare(ctx, h.Spec) }); err != nil {
		return fmt.Errorf("%w: hand-off prepare: %w", api.ErrMigration, err)
	}
	// Watched from before Ready: the arrival can finish right after.
	arrived, stopWatch, err := cfg.Engine.Arrival(ctx, h.Spec.Name)
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrMigration, err)
	}
	defer stopWatch()
	if err := wire.WriteMessage(d.ctl, wire.Ready{EngineURI: cfg.Engine.URI()}); err != nil {
		return fmt.Errorf("%w: ready: %w", api.ErrPeer, err)
	}
	d.rec.phase("receiving", time.Now().UTC())
	d.rec.update(true, func(m *api.Migration) { m.State = api.MigrationActive })
	in := readControl(d.ctl)
	// The guest runs here as soon as the engine has it: the source's
	// engine still takes its QEMU down after that (libvirt's confirm
	// step), and the source's Commit, sent when it is done, only stands in
	// for a missed event. The engine's migration lasts as long as the
	// source's request lets it.
	commit := make(chan error, 1)
	go func() {
		_, err := awaitMsg[wire.Commit](ctx, in, time.Duration(h.Request.CompletionTimeout)+2*time.Minute, "commit")
		commit <- err
	}()
	select {
	case <-arrived:
		d.log.Info("the engine has the guest here, paused")
	case err := <-commit:
		if err != nil {
			return err
		}
	}
	d.rec.phase("starting", time.Now().UTC())
	// The guest exists here, paused: its tap is attached once the agent's
	// engine watch has seen it (Started points the bridge at that tap).
	if cfg.WaitAttached != nil {
		if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error { return cfg.WaitAttached(ctx, h.Spec.Name) }); err != nil {
			d.log.Warn("the arriving guest's tap is not attached yet", "err", err)
		}
	}
	if err := bounded(ctx, 30*time.Second, func(ctx context.Context) error { return cfg.Engine.Resume(ctx, h.Spec.Name) }); err != nil {
		// The engine's migration completed: the guest is here, paused, and
		// gone from the source. No rollback: an operator resumes it.
		d.log.Error("resuming the arrived guest", "err", err)
		return fmt.Errorf("%w: resuming the arrived guest (it is here, paused; resume it with the engine): %w", api.ErrMigration, err)
	}
	resumedAt := time.Now()
	if err := bounded(context.WithoutCancel(ctx), 10*time.Second, func(ctx context.Context) error {
		return cfg.Handoff.Started(ctx, h.Spec)
	}); err != nil {
		d.log.Warn("hand-off started", "err", err)
	}
	d.rec.phase("running", time.Now().UTC())
	// Since: the source times the guest's pause to its resume here.
	if err := wire.WriteMessage(d.ctl, wire.Running{Since: api.Duration(time.Since(resumedAt))}); err != nil {
		d.log.Warn("telling the source the guest runs", "err", err)
	}
	d.log.Info("guest running here")
	var flush Stream
	select {
	case flush = <-d.flush:
	case <-time.After(cfg.FlushTimeout):
		d.log.Warn("no flush stream from the source", "waited", cfg.FlushTimeout)
	case <-d.conn.Context().Done():
	case <-ctx.Done():
	}
	release(ctx, cfg.Handoff, h.Spec, flush, d.log)
	d.rec.phase("cleanup", time.Now().UTC())
	if err := wire.WriteMessage(d.ctl, wire.HandoffDone{Stats: d.handoffStats()}); err != nil {
		d.log.Warn("sending the hand-off report to the source", "err", err)
	}
	d.ctl.CloseWrite()
	d.rec.finish(api.MigrationCompleted, "")
	d.log.Info("incoming foreign migration completed")
	return nil
}

// stream takes one of the session's streams: a QEMU channel is connected
// to the destination QEMU's socket, the flush handed to run.
func (d *foreignDest) stream(ctx context.Context, st Stream, h wire.StreamHeader) {
	if h.Kind == wire.KindFlush {
		select {
		case d.flush <- st:
		default:
			st.Close()
		}
		return
	}
	if h.Kind != wire.KindQEMU {
		st.Close()
		return
	}
	var local net.Conn
	err := bounded(ctx, foreignDialWait, func(ctx context.Context) error {
		for {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, "unix", d.agentSock)
			if err == nil {
				local = c
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	if err != nil {
		d.log.Warn("connecting the engine's migration channel", "channel", h.Channel, "err", err)
		st.Close()
		return
	}
	if _, _, err := pipe(ctx, local, st, nil); err != nil && !errors.Is(err, context.Canceled) {
		d.log.Warn("engine migration channel", "channel", h.Channel, "err", err)
	}
}

// handoffStats records this end's hand-off account and returns it.
func (d *foreignDest) handoffStats() api.HandoffStats {
	st := d.srv.cfg.Handoff.Stats(d.hello.Spec)
	d.rec.update(true, func(m *api.Migration) { m.Handoff = &api.HandoffReport{Destination: st} })
	return st
}
