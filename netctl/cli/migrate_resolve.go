package cli

import (
	"context"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// runMigrateResolve is "netctl migrate --resolve ID --guest-on END": settle
// a migration whose outcome is unknown and say how it ended.
func runMigrateResolve(ctx context.Context, g *globals, id, guestOn string) error {
	req := api.ResolveRequest{GuestOn: guestOn}
	if err := req.Validate(); err != nil {
		return usageErrorf("--guest-on %q: want %s or %s", guestOn, api.GuestOnSource, api.GuestOnDestination)
	}
	t, err := g.target()
	if err != nil {
		return err
	}
	m, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.ResolveMigration(ctx, id, req)
	})
	if err != nil {
		return fmt.Errorf("resolving migration %s on %s: %w", id, t.name, err)
	}
	if g.jsonOut() {
		return g.printJSON(m)
	}
	g.infof("migration %s (%s from %s to %s): %s", m.ID, m.VM, m.From, m.To, stateLine(m))
	if m.State == api.MigrationCompleted {
		g.infof("%s runs on %s", m.VM, m.To)
	} else {
		g.infof("%s runs on %s", m.VM, or(m.From, t.name))
	}
	return nil
}
