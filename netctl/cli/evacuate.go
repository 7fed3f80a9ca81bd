package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

func newEvacuateCmd(g *globals) *cobra.Command {
	o := &migrateOpts{}
	cmd := &cobra.Command{
		Use:   "evacuate [HOST] --to HOST2 [flags]",
		Short: "Move every running guest of a host to another, as one gang",
		Long: `evacuate moves every running guest of HOST (or of --host) to HOST2, as
"netctl migrate VM1 VM2 … --to HOST2" would: one migration per guest, each
with its own traffic hand-off and switchover, at most --parallel at a time,
all in one gang (with --codec auto they share one content store, so
content one guest sent goes as a reference for the others). Ctrl-C cancels
the migrations not yet ended (their guests stay on HOST) and says which
guests moved. The exit status is 0 only if every guest moved.`,
		Example: `  netctl evacuate hostA --to hostB
  netctl evacuate hostA --to hostB --codec auto --parallel 2 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				g.host = args[0]
			}
			return runEvacuate(cmd.Context(), g, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.req.To, "to", "", "destination host, e.g. hostB (required)")
	f.IntVar(&o.parallel, "parallel", 0, "migrate at most this many guests at once (default: all)")
	f.StringVar(&o.req.Codec, "codec", api.DefaultCodec, "how RAM pages travel between the agents: none or auto (see netctl migrate --help)")
	f.StringVar(&o.req.Postcopy, "postcopy", api.DefaultPostcopy, "post-copy: auto, never or always")
	f.Var(rateValue{&o.req.Bandwidth}, "bandwidth",
		fmt.Sprintf("maximum migration bandwidth of each guest until it stops, bytes/s (default %dGiB/s)", api.DefaultBandwidth>>30))
	f.DurationVar(&o.downtime, "downtime", time.Duration(api.DefaultDowntimeTarget), "downtime target of each guest")
	f.DurationVar(&o.completion, "completion-timeout", time.Duration(api.DefaultCompletionTimeout), "limit on each migration")
	return cmd
}

// runEvacuate lists the host's running guests and moves them as a gang.
func runEvacuate(ctx context.Context, g *globals, o *migrateOpts) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	vms, err := call(ctx, g, t, func(ctx context.Context) ([]api.VM, error) { return t.client.ListVMs(ctx) })
	if err != nil {
		return fmt.Errorf("listing %s's guests: %w", t.name, err)
	}
	var names []string
	for _, v := range vms {
		if v.State == api.StateRunning {
			names = append(names, v.Spec.Name)
		}
	}
	if len(names) == 0 {
		g.infof("%s runs no guest: nothing to move", t.name)
		return nil
	}
	slices.Sort(names)
	return runMigrateGang(ctx, g, o, names, o.parallel)
}
