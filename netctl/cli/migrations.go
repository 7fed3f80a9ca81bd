package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

func newMigrationsCmd(g *globals) *cobra.Command {
	var gang string
	cmd := &cobra.Command{
		Use:     "migrations [ID]",
		Aliases: []string{"migration"},
		Short:   "List the migrations an agent has recorded, or show one in detail",
		Long: `List the migration records of the agent chosen with --host, newest first:
ID, VM, source and destination host, this agent's role (source or
destination: both ends keep a record under the same ID), state (setup,
active, postcopy, switchover, completed, failed, cancelled), when it
started, its total time, QEMU's downtime (how long the guest was paused)
and the verdict of "netctl migrate --verify" if one was attached.

With an ID, show that record in detail: the same summary "netctl migrate"
prints at the end (times, RAM and wire bytes, passes, post-copy, throttle,
phases, policy decisions), live progress while it still runs, and the
verification if there is one.

With --gang NAME, the gang's record from the source agent's records (each
keeps its gang's name): one line per VM and the gang's sum, as "netctl
migrate VM1 VM2 …" and "netctl evacuate" print at the end.

-o json prints the records (api.Migration) as the agent keeps them; with
--gang, the gang (its name, hosts and one record per VM).`,
		Example: `  netctl --host hostA migrations
  netctl --host hostA migrations hostA-3
  netctl --host hostB migrations hostA-3 -o json
  netctl --host hostA migrations --gang evac-hosta-1`,
		Args: cobra.MaximumNArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			switch {
			case gang != "" && len(args) == 1:
				return usageErrorf("give a migration ID or --gang, not both")
			case gang != "":
				return runGangShow(cmd.Context(), g, gang)
			case len(args) == 1:
				return runMigrationShow(cmd.Context(), g, args[0])
			}
			return runMigrations(cmd.Context(), g)
		}),
	}
	cmd.Flags().StringVar(&gang, "gang", "", "show the gang of this name (its source agent's records)")
	return cmd
}

// runGangShow prints gang name's record from the source agent's records:
// the migrations it started for the gang, oldest first.
func runGangShow(ctx context.Context, g *globals, name string) error {
	t, ms, err := listMigrations(ctx, g)
	if err != nil {
		return err
	}
	r := GangResult{Gang: name, From: t.name, Migrations: []api.Migration{}}
	for _, m := range ms {
		if m.Request.Gang == name && m.Role == "source" {
			r.Migrations = append(r.Migrations, m)
			r.To = m.To
		}
	}
	if len(r.Migrations) == 0 {
		return fmt.Errorf("%s has no migration of a gang %q (a gang's records are on its source agent)", t.name, name)
	}
	slices.SortStableFunc(r.Migrations, func(a, b api.Migration) int { return a.Started.Compare(b.Started) })
	if g.jsonOut() {
		return g.printJSON(r)
	}
	for _, m := range r.Migrations {
		fmt.Fprintln(g.env.Stdout, gangLine(m))
	}
	printGang(g, r)
	return nil
}

// listMigrations reads the records of the agent chosen with --host.
func listMigrations(ctx context.Context, g *globals) (*target, []api.Migration, error) {
	t, err := g.target()
	if err != nil {
		return nil, nil, err
	}
	ms, err := call(ctx, g, t, t.client.ListMigrations)
	if err != nil {
		return nil, nil, fmt.Errorf("listing migrations on %s: %w", t.name, err)
	}
	return t, ms, nil
}

func runMigrations(ctx context.Context, g *globals) error {
	t, ms, err := listMigrations(ctx, g)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []api.Migration{}
	}
	slices.SortStableFunc(ms, func(a, b api.Migration) int { return b.Started.Compare(a.Started) })
	if g.jsonOut() {
		return g.printJSON(ms)
	}
	if len(ms) == 0 {
		g.infof("no migrations recorded on %s", t.name)
		return nil
	}
	tw := newTable(g.env.Stdout)
	fmt.Fprintln(tw, "ID\tVM\tFROM→TO\tROLE\tSTATE\tSTARTED\tTOTAL\tDOWNTIME\tVERDICT")
	for _, m := range ms {
		total := m.TotalTime
		if !api.Ended(m.State) {
			total = m.Progress.Elapsed
		}
		fmt.Fprintf(tw, "%s\t%s\t%s→%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.VM, or(m.From, "?"), or(m.To, "?"),
			or(m.Role, "-"), m.State, g.ago(m.Started), dur(total), dur(m.QEMUDowntime), verdictWord(m.Verification))
	}
	return tw.Flush()
}

func runMigrationShow(ctx context.Context, g *globals, id string) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	m, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.GetMigration(ctx, id)
	})
	if err != nil {
		return fmt.Errorf("migration %s on %s: %w", id, t.name, err)
	}
	if g.jsonOut() {
		return g.printJSON(m)
	}
	g.printMigration(m)
	if len(m.Verification) > 0 {
		printVerification(g, m.Verification)
	}
	return nil
}

// ago prints the time since t: "3m12s ago", "-" for a zero time.
func (g *globals) ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmtDuration(g.env.now().Sub(t).Truncate(time.Second)) + " ago"
}

// verdictWord is PASS, FAIL or "-" for a record's attached verification.
func verdictWord(raw json.RawMessage) string {
	var v struct {
		Pass *bool `json:"pass"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v.Pass == nil {
		return "-"
	}
	if *v.Pass {
		return "PASS"
	}
	return "FAIL"
}
