package session

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// fail cleans up a destination session that failed before its guest ran:
// QEMU and its tap go, the hand-off rolls back, the source is told.
func (d *dest) fail(ctx context.Context, cause error) {
	if e := d.codecErr.Load(); e != nil {
		cause = fmt.Errorf("%w (%v)", cause, *e)
	}
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
