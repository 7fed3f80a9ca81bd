package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// running finishes a session whose guest runs here: hand it to the agent,
// tell the source, take the flush (at once: in post-copy the guest runs
// here while pages still arrive, and its traffic must not wait for them)
// while seeing a post-copy through, then report the hand-off.
func (d *dest) running(ctx context.Context) {
	if d.postcopy {
		// Stored before anything else: a restart from here on must resume
		// this post-copy (the source holds pages the guest lacks), never
		// end it.
		d.rec.phase("postcopy", time.Now().UTC())
		d.rec.update(true, func(m *api.Migration) { m.State, m.Postcopy = api.MigrationPostcopy, true })
		// A Recover may come as soon as the guest runs here.
		d.pc = newIncomingPostcopy(d.pipes, d.hello.ID, d.hello.Source, d.hello.Spec, d.cfg.Handoff, d.guest, d.dir, d.oob, d.cfg.Poll, d.log)
		d.oob = nil // the post-copy's now
		d.pc.running = d.runningMsg
		d.srv.addPostcopy(d.hello.ID, d.pc)
		defer d.srv.removePostcopy(d.hello.ID, d.pc)
		defer d.pc.close() // after the hand-off report went on its control stream
	}
	d.enter(destRunning, "")
	if err := d.cfg.Agent.Adopt(d.hello.Spec, d.guest); err != nil {
		d.log.Error("handing the running guest to the agent", "err", err)
	}
	d.runningDelay(ctx)
	run := d.runningMsg()
	if err := wire.WriteMessage(d.ctl, run); err != nil {
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
		pcErr = d.waitPostcopy(ctx)
	}
	if pcErr == nil {
		d.rec.phase("cleanup", time.Now().UTC())
	}
	<-flushed
	if pcErr != nil && ctx.Err() != nil {
		// The agent stops: the record stays in post-copy, and the next
		// run takes the recovery over (Server.ResumePostcopy). The guest
		// stalls once its stream ends with this run: its traffic is held
		// (incomingPostcopy.wait) for the next run to release.
		d.log.Warn("agent stopping during post-copy: left for the next run to resume", "err", pcErr)
		d.handoffStats()
		return
	}
	if pcErr != nil {
		// The guest ran here and its traffic was handed off: no rollback.
		d.log.Error("post-copy failed after the guest started here", "err", pcErr)
		d.handoffStats()
		d.rec.finish(api.MigrationFailed, "post-copy failed after the guest started here; no rollback: "+pcErr.Error())
		return
	}
	ctl := d.ctl
	if d.pc != nil && d.pc.control() != nil {
		ctl = d.pc.control() // the post-copy recovered on a new connection
	}
	if err := wire.WriteMessage(ctl, wire.HandoffDone{Stats: d.handoffStats()}); err != nil {
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
	defer timer.Stop()
	lost := d.conn.Context().Done()
	var resumed <-chan struct{}
	if d.pc != nil {
		// The source resumes the post-copy on a new connection and sends
		// its flush there, at once: a source agent that restarted has
		// none to send (its Recover says so).
		lost, resumed = nil, d.pc.resumed
	}
	for { // once, and again after a resume
		select {
		case flush = <-d.flush:
		case <-timer.C:
			d.log.Warn("no flush stream from the source", "waited", d.cfg.FlushTimeout)
		case <-resumed:
			resumed = nil
			if d.pc.sourceRestarted() {
				d.log.Warn("no flush to wait for: the source agent restarted (its buffered frames were lost with it)")
			} else {
				timer.Reset(flushAfterResume)
				continue
			}
		case <-lost:
		case <-ctx.Done():
		}
		break
	}
	release(ctx, d.cfg.Handoff, d.hello.Spec, flush, d.log)
}

// flushAfterResume bounds the wait for the source's flush once a broken
// post-copy resumed: the source sends it as soon as it hears Running.
const flushAfterResume = 5 * time.Second

// releaseWait bounds the injection of a flush and the release of the HOLD
// queue behind it.
const releaseWait = 30 * time.Second

// release injects flush (if not nil) into spec's tap, then the frames the
// dataplane held, in order (Handoff.Flushed), and closes flush.
func release(ctx context.Context, h handoff.Handoff, spec api.VMSpec, flush Stream, log *slog.Logger) {
	err := bounded(context.WithoutCancel(ctx), releaseWait, func(ctx context.Context) error {
		return h.Flushed(ctx, spec, flush)
	})
	if err != nil && !errors.Is(err, io.EOF) {
		log.Warn("hand-off flushed", "err", err)
	}
	if flush != nil {
		flush.Close()
	}
	log.Info("hand-off: flush injected, hold released", "flush", flush != nil)
}

// handoffStats records this end's hand-off account and returns it.
func (d *dest) handoffStats() api.HandoffStats {
	st := d.cfg.Handoff.Stats(d.hello.Spec)
	d.rec.update(true, func(m *api.Migration) { m.Handoff = &api.HandoffReport{Destination: st} })
	return st
}

// waitPostcopy waits for the incoming post-copy migration to complete,
// through the source's recoveries if its stream breaks.
func (d *dest) waitPostcopy(ctx context.Context) error {
	return d.pc.wait(ctx)
}

// runningMsg is the Running that tells the source the guest runs here,
// with this end's part of the pause.
func (d *dest) runningMsg() wire.Running {
	var run wire.Running
	if !d.commitAt.IsZero() && !d.contAt.IsZero() {
		run = wire.Running{Starting: api.Duration(d.contAt.Sub(d.commitAt)), Since: api.Duration(time.Since(d.contAt)),
			Ready: api.Duration(max(d.readyAt.Sub(d.commitAt), 0))}
		if !d.listenAt.IsZero() {
			run.Listening = api.Duration(max(d.listenAt.Sub(d.commitAt), 0))
		}
	}
	return run
}
