package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/engine"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// ForeignSourceConfig configures RunForeignSource.
type ForeignSourceConfig struct {
	ID      string
	Host    string
	Request api.MigrateRequest
	Spec    api.VMSpec // the guest as the agent lists it: name (the domain's), NICs
	Conn    Conn       // to the destination agent
	Engine  Engine
	Handoff handoff.Handoff // nil: handoff.Nop
	Record  Recorder
	Logger  *slog.Logger
	Started time.Time
	// Accepted, if set, is an operator's own migration of the guest by
	// its engine (virsh migrate --migrateuri unix://…/to-<host>.sock),
	// whose stream the engine has begun on the agent's standing socket
	// for cfg.Request.To: this connection. The session carries it and
	// follows the engine (Engine.Follow) instead of asking for the
	// migration.
	Accepted net.Conn
}

// Timeouts of a foreign migration's steps that wait for the peer.
const (
	foreignReadyTimeout   = 30 * time.Second // Hello until Ready: the destination holds the traffic
	foreignRunningTimeout = 30 * time.Second // Commit until Running: the destination resumed the guest
)

// RunForeignSource migrates a foreign guest (Hello.Engine) with its
// engine: the agents carry the engine's stream (each connection the
// source's engine opens on the migration's socket becomes one KindQEMU
// stream, in accept order), the hand-off follows the engine's events:
//
//	Hello → the destination holds the guest's traffic (Prepare) and answers Ready with its engine's URI
//	Begin (MIRROR), then the engine's migration, the destination left paused
//	the engine reports the guest stopped: Switchover (BUFFER)
//	the destination's engine has the guest (or the source's says it is done: Commit):
//	    the destination resumes it, Started, Running
//	Running: Resumed (FORWARD, the flush) → the destination injects it and releases its hold; HandoffDone
//
// A migration the engine fails rolls the hand-off back on both ends (the
// engine resumed the guest here). moved says where the guest is.
func RunForeignSource(ctx context.Context, cfg ForeignSourceConfig) (m api.Migration, moved bool) {
	cfg.Handoff, cfg.Logger = orNop(cfg.Handoff), orDiscard(cfg.Logger)
	log := cfg.Logger.With("migration", cfg.ID, "vm", cfg.Spec.Name, "to", cfg.Request.To, "engine", wire.EngineLibvirt)
	rec := newRecord(api.Migration{ID: cfg.ID, VM: cfg.Spec.Name, From: cfg.Host, To: cfg.Request.To, Role: "source",
		State: api.MigrationSetup, Request: cfg.Request, Started: cfg.Started}, cfg.Record)
	rec.phase("setup", cfg.Started)
	f := &foreignSource{cfg: cfg, log: log, rec: rec}
	err := f.run(ctx)
	if f.ctl != nil {
		defer f.ctl.Close()
	}
	f.recordStats()
	if err != nil && !f.moved {
		f.rollback(ctx, err)
		state := api.MigrationFailed
		if errors.Is(err, ErrCancelled) {
			state = api.MigrationCancelled
		}
		return rec.finish(state, err.Error()), false
	}
	if err != nil {
		log.Error("foreign migration: the guest moved, the hand-off did not finish", "err", err)
		return rec.finish(api.MigrationFailed, "the guest moved; "+err.Error()), true
	}
	log.Info("migration completed")
	return rec.finish(api.MigrationCompleted, ""), true
}

// foreignSource is one running RunForeignSource.
type foreignSource struct {
	cfg ForeignSourceConfig
	log *slog.Logger
	rec *record

	ctl       Stream
	in        <-chan control
	begun     bool              // Handoff.Begin succeeded
	switched  atomic.Bool       // Handoff.Switchover was called
	moved     bool              // the engine's migration completed: the guest is at the destination
	destStats *api.HandoffStats // from the destination's HandoffDone
	settled   bool              // the wait for HandoffDone is over
	relayed   atomic.Int64      // bytes the relay carried, both ways
	// stoppedAt is when the switchover started: the engine's stop event
	// (a few ms after QEMU's stop), or the migration's end when no event
	// came; the guest's pause is timed from it (an underestimate by the
	// event's delay).
	stoppedAt atomic.Int64                // UnixNano; 0: not yet
	stop      atomic.Pointer[engine.Stop] // how the guest stopped (noteStop, from the engine's goroutine)
}

func (f *foreignSource) run(ctx context.Context) error {
	cfg := f.cfg
	sockName := cfg.ID
	if cfg.Accepted != nil {
		sockName = PeerSocketName(cfg.Request.To)
	}
	engineSock, agentSock, err := cfg.Engine.Socket(sockName)
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrMigration, err)
	}
	f.ctl, err = cfg.Conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: cfg.ID})
	if err != nil {
		return fmt.Errorf("%w: control stream: %w", api.ErrPeer, err)
	}
	f.in = readControl(f.ctl)
	hello := wire.Hello{ID: cfg.ID, Source: cfg.Host, Spec: cfg.Spec, Request: cfg.Request, Engine: wire.EngineLibvirt,
		EngineSocket: sockName}
	if err := wire.WriteMessage(f.ctl, hello); err != nil {
		return fmt.Errorf("%w: hello: %w", api.ErrPeer, err)
	}
	ready, err := awaitMsg[wire.Ready](ctx, f.in, foreignReadyTimeout, "ready")
	if err != nil {
		return err
	}
	if ready.EngineURI == "" && cfg.Accepted == nil {
		return fmt.Errorf("%w: %s has no libvirt daemon to migrate to (its agent runs without --libvirt-uri)", api.ErrPeer, cfg.Request.To)
	}

	pctx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var relays sync.WaitGroup
	defer func() { stopRelay(); relays.Wait() }()
	if cfg.Accepted != nil {
		// The engine's only channel, begun before the session: the
		// standing socket's other connections are other migrations'.
		f.relayConn(pctx, cfg.Accepted, 0, &relays)
	} else {
		os.Remove(agentSock)
		ln, err := net.Listen("unix", agentSock)
		if err != nil {
			return fmt.Errorf("%w: migration socket: %w", api.ErrMigration, err)
		}
		defer os.Remove(agentSock)
		defer ln.Close()
		relays.Add(1)
		go func() { defer relays.Done(); f.relay(pctx, ln, &relays) }()
	}

	peer, err := peerAddr(cfg.Conn)
	if err != nil {
		return fmt.Errorf("%w: hand-off: destination address: %w", api.ErrMigration, err)
	}
	if err := bounded(ctx, 10*time.Second, func(ctx context.Context) error { return cfg.Handoff.Begin(ctx, cfg.Spec, peer) }); err != nil {
		return fmt.Errorf("%w: hand-off begin: %w", api.ErrMigration, err)
	}
	f.begun = true
	f.rec.phase("precopy", time.Now().UTC())
	f.rec.update(true, func(m *api.Migration) { m.State = api.MigrationActive })
	f.log.Info("engine migrating", "dest", ready.EngineURI, "socket", engineSock)

	// The engine may report the stop after its Migrate returned (libvirt's
	// events come on a connection of their own): the switchover is then
	// follow's to make (the guest moved) or no longer wanted (it runs
	// here, the hand-off rolled back), and the record no longer this
	// callback's to change. A stop under way when Migrate returns is
	// finished before follow sees the result.
	var stopMu sync.Mutex
	migrating := true
	stopped := func(st engine.Stop) {
		stopMu.Lock()
		defer stopMu.Unlock()
		if !migrating {
			return
		}
		now := time.Now().UTC()
		f.switchover(context.WithoutCancel(ctx))
		f.rec.phase("switchover", now)
		f.noteStop(now, st)
	}
	mctx, cancelMigrate := context.WithCancelCause(ctx)
	defer cancelMigrate(nil)
	migrated := make(chan error, 1)
	go func() {
		var err error
		if cfg.Accepted != nil {
			err = cfg.Engine.Follow(mctx, f.migration("", "", stopped))
		} else {
			err = cfg.Engine.Migrate(mctx, f.migration(ready.EngineURI, engineSock, stopped))
		}
		stopMu.Lock()
		migrating = false
		stopMu.Unlock()
		migrated <- err
	}()
	return f.follow(ctx, migrated, cancelMigrate)
}

// follow sees the engine's migration through: the destination resumes
// the guest as soon as its engine has it (its Running may come before the
// source's engine is done, which then still takes the source's QEMU
// down), and the flush goes at once. It returns once the engine's
// migration ended and, if the guest moved, the destination's account of
// the hand-off arrived (or its wait timed out).
func (f *foreignSource) follow(ctx context.Context, migrated <-chan error, cancelMigrate context.CancelCauseFunc) error {
	var running, done bool
	var doneWait <-chan time.Time
	for migrated != nil || (f.moved && !(running && done)) {
		select {
		case err := <-migrated:
			migrated = nil
			if err != nil {
				if running {
					return fmt.Errorf("%w: the engine failed after the guest ran at the destination: %w", api.ErrMigration, err)
				}
				return fmt.Errorf("%w: %w", api.ErrMigration, err)
			}
			f.moved = true
			if !running {
				// The stop event may come after the migration's end, or
				// never (a lost event connection): BUFFER then starts late.
				f.switchover(context.WithoutCancel(ctx))
				f.rec.phase("committed", time.Now().UTC())
				f.rec.update(true, func(m *api.Migration) { m.Committed = true })
				if err := wire.WriteMessage(f.ctl, wire.Commit{}); err != nil {
					return fmt.Errorf("%w: commit: %w", api.ErrPeer, err)
				}
				doneWait = time.After(foreignRunningTimeout)
			}
		case c, ok := <-f.in:
			if !ok || c.err != nil {
				f.in = nil
				if running {
					if !done {
						f.log.Warn("control stream ended before the destination's hand-off report", "err", c.err)
					}
					done = true
					continue
				}
				cancelMigrate(fmt.Errorf("%w: control stream lost", api.ErrPeer))
				return f.abandon(migrated, fmt.Errorf("%w: control stream ended: %v", api.ErrPeer, c.err))
			}
			switch m := c.msg.(type) {
			case wire.Running:
				if running {
					continue
				}
				running, f.moved = true, true
				f.switchover(context.WithoutCancel(ctx))
				now := time.Now().UTC()
				f.rec.phase("cleanup", now)
				resumedAt := now.Add(-time.Duration(m.Since))
				var paused time.Duration
				f.rec.update(true, func(r *api.Migration) {
					r.Committed = true
					if at := f.stoppedAt.Load(); at != 0 && resumedAt.UnixNano() > at {
						paused = time.Duration(resumedAt.UnixNano() - at)
						r.Paused, r.ResumedAt = api.Duration(paused), resumedAt
					}
				})
				f.notePause(now, paused)
				f.resume(context.WithoutCancel(ctx))
				doneWait = time.After(foreignDoneTimeout)
			case wire.HandoffDone:
				f.destStats, done = &m.Stats, true
			case wire.Abort:
				if running {
					continue
				}
				cancelMigrate(fmt.Errorf("%w: the destination aborted: %s", api.ErrMigration, m.Reason))
				return f.abandon(migrated, fmt.Errorf("%w: the destination aborted: %s", api.ErrMigration, m.Reason))
			}
		case <-doneWait:
			if !running {
				return fmt.Errorf("%w: the destination did not resume the guest within %v of the engine's end", api.ErrMigration, foreignRunningTimeout)
			}
			f.log.Warn("no hand-off report from the destination", "waited", foreignDoneTimeout)
			done, doneWait = true, nil
		}
	}
	f.settled = true
	return nil
}

// abandon waits for the engine's migration (cancelled) to end and returns
// err, unless the migration completed after all: the guest moved then.
func (f *foreignSource) abandon(migrated <-chan error, err error) error {
	if migrated != nil && <-migrated == nil {
		f.moved = true
		return fmt.Errorf("the engine moved the guest, but %w", err)
	}
	return err
}

// relay turns every connection on ln (the source engine's QEMU) into one
// KindQEMU stream to the destination, piped both ways, until ln closes.
func (f *foreignSource) relay(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) {
	for ch := 0; ; ch++ {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.relayConn(ctx, c, ch, wg)
	}
}

// relayConn pipes c, the engine's channel ch, through a KindQEMU stream to
// the destination, in the background.
func (f *foreignSource) relayConn(ctx context.Context, c net.Conn, ch int, wg *sync.WaitGroup) {
	st, err := f.cfg.Conn.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindQEMU, Session: f.cfg.ID, Channel: uint16(ch)})
	if err != nil {
		f.log.Warn("opening a stream for the engine's migration channel", "channel", ch, "err", err)
		c.Close()
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, recv, err := pipe(ctx, c, st, nil)
		f.relayed.Add(sent + recv)
		if err != nil && !errors.Is(err, context.Canceled) {
			f.log.Warn("engine migration channel", "channel", ch, "err", err)
		}
	}()
}
