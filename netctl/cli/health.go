package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newHealthCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Show one agent's health: host, version, accelerator, VM count",
		Long: `Ask the agent chosen with --host (or NFH_HOST) whether it is alive: it
answers with its host name, version, the accelerator its guests use (kvm or
tcg) and the number of VMs it runs. Exits 1 when the agent does not answer.`,
		Example: `  netctl --host hostA health
  NFH_HOST=hostB netctl health -o json`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return runHealth(cmd.Context(), g)
		}),
	}
}

func runHealth(ctx context.Context, g *globals) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	h, err := call(ctx, g, t, t.client.Health)
	if err != nil {
		return err
	}
	if g.jsonOut() {
		return g.printJSON(h)
	}
	tw := newTable(g.env.Stdout)
	fmt.Fprintf(tw, "host:\t%s\n", h.Host)
	fmt.Fprintf(tw, "version:\t%s\n", or(h.Version, "-"))
	fmt.Fprintf(tw, "accel:\t%s\n", or(h.Accel, "-"))
	fmt.Fprintf(tw, "vms:\t%d\n", h.VMs)
	fmt.Fprintf(tw, "socket:\t%s\n", t.socket)
	return tw.Flush()
}
