package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// committedPoll is the destination's poll interval once Commit arrived.
const committedPoll = 5 * time.Millisecond

// qemuCallTimeout bounds each of receive's QMP calls: QEMU's main thread
// may be busy loading (or waiting for a post-copy page) for a while.
const qemuCallTimeout = 5 * time.Second

// receive waits until the guest may start here: the source has sent
// Commit, and the incoming migration is complete (or in post-copy with the
// guest's devices loaded). At Commit it sends cont (startEarly), so QEMU
// starts the guest itself when its load is done; a QEMU that stays paused
// after all gets cont once it is ready.
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
		qctx, cancel := context.WithTimeout(ctx, qemuCallTimeout)
		if incoming, errDesc, err = d.poll(qctx, incoming); err == nil {
			rs, err = runState(qctx, g)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			d.log.Debug("polling destination qemu", "err", err)
		}
	}
	var resumedAt time.Time // QEMU's RESUME: it started the guest itself
	early := false          // cont went at Commit (startEarly)
	for {
		committed := d.isCommitted()
		if committed && rs == qmpcmd.RunStateRunning {
			if resumedAt.IsZero() || (incoming != qmpcmd.MigrationPostcopyActive && incoming != qmpcmd.MigrationCompleted) {
				// Whether it runs in post-copy: a poll's query-migrate
				// may have come before post-copy's listen, and the
				// event saying so may not be read yet. Ask again.
				qctx, cancel := context.WithTimeout(ctx, qemuCallTimeout)
				if st, _, err := d.poll(qctx, incoming); err == nil {
					incoming = st
				}
				cancel()
			}
			break
		}
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
				d.commitAt = time.Now()
				d.enter(destCommitted, "")
				d.log.Info("commit received")
				d.rec.phase("switchover", time.Now().UTC())
				d.rec.update(true, func(m *api.Migration) { m.State = api.MigrationSwitchover })
				// The guest is stopped everywhere now: every poll
				// interval waited here adds to its blackout.
				if early = d.startEarly(ctx); early {
					// Events tell the rest; polls are the fallback,
					// and each waits for QEMU's busy main thread.
					tick.Reset(d.cfg.Poll)
				} else {
					tick.Reset(committedPoll)
					refresh()
				}
			case wire.Abort:
				return fmt.Errorf("%w: source aborted: %s", api.ErrMigration, m.Reason)
			default:
				return fmt.Errorf("%w: unexpected %T from the source", api.ErrPeer, m)
			}
		case e, ok := <-events:
			if !ok {
				events = nil
			} else if e.Name == qmpcmd.EventResume && d.isCommitted() {
				// After Commit only QEMU's autostart (startEarly) or
				// that cont start the guest.
				rs, resumedAt = qmpcmd.RunStateRunning, eventTime(e)
			} else if st := eventStatus(e); st != "" {
				d.noteListen(e)
				incoming = st
				// QEMU sets the run state before it reports completed.
				// A post-copy started early runs without a word from
				// here: asking would only wait for its device load.
				if d.isCommitted() && !(early && st == qmpcmd.MigrationPostcopyActive) {
					refresh()
				}
			}
		case <-tick.C:
			refresh()
		}
	}
	for more := true; more; {
		// A poll may have shown post-copy, or the guest running, before
		// the event was read.
		select {
		case e, ok := <-events:
			if more = ok; ok {
				d.noteListen(e)
				if e.Name == qmpcmd.EventResume && resumedAt.IsZero() {
					resumedAt = eventTime(e)
				}
			}
		default:
			more = false
		}
	}
	d.readyAt = time.Now()
	d.postcopy = incoming == qmpcmd.MigrationPostcopyActive
	if rs == qmpcmd.RunStateRunning {
		if !resumedAt.IsZero() {
			d.readyAt = resumedAt
		}
		d.contAt = d.readyAt
		d.log.Info("guest started by qemu", "incoming", incoming)
	} else {
		d.log.Info("starting the guest", "incoming", incoming)
		if err := cont(ctx, g); err != nil {
			return fmt.Errorf("%w: cont: %w", api.ErrQEMU, err)
		}
		d.contAt = time.Now()
	}
	// The guest runs here: announce it (GARPs go out in the background).
	if err := bounded(context.WithoutCancel(ctx), 10*time.Second, func(ctx context.Context) error {
		return d.cfg.Handoff.Started(ctx, d.hello.Spec)
	}); err != nil {
		d.log.Warn("hand-off started", "err", err)
	}
	return nil
}

// startEarly sends cont as soon as Commit is in, whatever QEMU is doing:
// while it still loads the incoming migration (run state inmigrate),
// qmp_cont only sets autostart, and QEMU starts the guest itself the
// moment its load is done; once loaded, cont starts it at once. Either
// way no poll has to see QEMU ready, and no cont has to wait for a main
// thread busy with post-copy's pages (measured: 20-50 ms of the post-copy
// pause). Only after Commit: the guest must not run here before the
// source let it go. cont also activates block devices (bdrv_activate_all)
// at once: these guests have none; a guest with disks would have to wait
// for the source to release them. A precopy guest the source agent
// stopped stays paused all the same (QEMU keeps the source's run state),
// and receive sends cont again. It reports whether cont went through.
func (d *dest) startEarly(ctx context.Context) bool {
	err := bounded(ctx, qemuCallTimeout, func(ctx context.Context) error { return cont(ctx, d.guest) })
	if err != nil {
		d.log.Warn("cont at commit: polling for the guest instead", "err", err)
		return false
	}
	return true
}

// eventTime is when QEMU emitted e, by its own clock (the event may wait
// here while a poll waits for QEMU's busy main loop), never later than now.
func eventTime(e qmpx.Event) time.Time {
	now := time.Now()
	if e.Time.IsZero() || e.Time.After(now) {
		return now
	}
	return e.Time
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

// noteListen keeps when QEMU reported post-copy active, by QEMU's own
// clock: the event may wait here while a refresh waits for QEMU's busy
// main loop. Without the event the record leaves that part out.
func (d *dest) noteListen(e qmpx.Event) {
	if eventStatus(e) != qmpcmd.MigrationPostcopyActive || !d.listenAt.IsZero() {
		return
	}
	d.listenAt = eventTime(e)
}
