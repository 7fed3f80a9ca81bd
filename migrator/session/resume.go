package session

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// cancelWait bounds the wait for QEMU to leave its migration states after
// migrate_cancel.
const cancelWait = 30 * time.Second

// ResumeHere ends QEMU's outgoing migration, if one is under way, and makes
// sure the guest runs on this host: migrate_cancel, a wait for QEMU to leave
// setup/active/pre-switchover/device/cancelling, then cont unless the guest
// already runs (QEMU restarts a guest that ran when its migration ends
// unfinished, not one the agent had stopped). Only for a migration the
// destination was never told to commit: without Commit it never runs the
// guest, even when QEMU completed. A QEMU that is gone is not an error
// here; the caller sees it in g.Done().
func ResumeHere(ctx context.Context, g Guest, log *slog.Logger) error {
	alive := func() bool { return guestAlive(g) }
	if !alive() {
		return nil
	}
	if st, _, err := migrateStatus(ctx, g); err == nil && migrating(st) {
		bounded(ctx, 5*time.Second, func(ctx context.Context) error {
			return g.Execute(ctx, qmpcmd.MigrateCancel, nil, nil)
		})
		deadline := time.Now().Add(cancelWait)
		for time.Now().Before(deadline) && alive() && ctx.Err() == nil {
			if st, _, err := migrateStatus(ctx, g); err == nil && !migrating(st) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !alive() {
		return nil
	}
	rs, err := runState(ctx, g)
	if err != nil {
		return fmt.Errorf("reading the guest's run state: %w", err)
	}
	if rs == qmpcmd.RunStateRunning {
		return nil
	}
	if err := cont(ctx, g); err != nil {
		return fmt.Errorf("resuming the guest (it was %s): %w", rs, err)
	}
	log.Info("guest resumed here", "was", rs)
	return nil
}

// migrating reports whether QEMU's outgoing migration status is one it has
// not finished: anything but none, completed, failed and cancelled.
func migrating(status string) bool {
	switch status {
	case "", qmpcmd.MigrationNone, qmpcmd.MigrationCompleted, qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
		return false
	}
	return true
}

// guestAlive reports whether g's QEMU still runs.
func guestAlive(g Guest) bool {
	select {
	case <-g.Done():
		return false
	default:
		return true
	}
}
