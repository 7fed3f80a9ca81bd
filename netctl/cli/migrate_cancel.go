package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// cancelWait bounds how long netctl waits for a cancelled migration to end.
const cancelWait = 30 * time.Second

// runMigrateCancel is "netctl migrate --cancel ID": ask the agent to cancel,
// wait for the record to end and say how it ended. It fails unless the
// migration ended without completing.
func runMigrateCancel(ctx context.Context, g *globals, id string) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	m, err := cancelAndWait(wctx, g, t, id)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if m.ID == "" {
		return fmt.Errorf("cancelling migration %s on %s: %w", id, t.name, err)
	}
	if g.jsonOut() {
		if perr := g.printJSON(m); perr != nil {
			return perr
		}
	} else {
		g.infof("migration %s (%s from %s to %s): %s", m.ID, m.VM, m.From, m.To, stateLine(m))
	}
	switch {
	case err != nil:
		return fmt.Errorf("cancelling migration %s on %s: %w", id, t.name, err)
	case m.State == api.MigrationCompleted:
		return fmt.Errorf("migration %s had completed before the cancel: %s runs on %s", m.ID, m.VM, m.To)
	}
	if !g.jsonOut() && m.Role != "destination" {
		g.infof("%s keeps running on %s", m.VM, or(m.From, t.name))
	}
	return nil
}

// cancelInterrupted cancels m after the user interrupted netctl, waiting up
// to cancelWait for it to end even though ctx is done, and returns the
// record as it was last seen.
func cancelInterrupted(ctx context.Context, g *globals, t *target, m api.Migration) api.Migration {
	fmt.Fprintf(g.env.Stderr, "netctl: interrupted: cancelling migration %s\n", m.ID)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelWait)
	defer cancel()
	got, err := cancelAndWait(cctx, g, t, m.ID)
	if got.ID != "" {
		m = got
	}
	if err != nil {
		g.warnf("cancelling migration %s: %v", m.ID, err)
	}
	return m
}

// cancelAndWait asks the agent to cancel migration id and polls the record
// until it ends or ctx does. It returns the last record seen (zero if none)
// and an error if the migration could not be cancelled or did not end.
func cancelAndWait(ctx context.Context, g *globals, t *target, id string) (api.Migration, error) {
	m, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.CancelMigration(ctx, id)
	})
	if err != nil {
		// It may have ended just before: then the record says how.
		if got, gerr := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
			return t.client.GetMigration(ctx, id)
		}); gerr == nil && api.Ended(got.State) {
			return got, nil
		}
		return m, err
	}
	for !api.Ended(m.State) {
		select {
		case <-ctx.Done():
			return m, fmt.Errorf("migration %s still %s after the cancel request", id, m.State)
		case <-time.After(migratePoll):
		}
		got, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
			return t.client.GetMigration(ctx, id)
		})
		if err == nil {
			m = got
		}
	}
	return m, nil
}
