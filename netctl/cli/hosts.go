package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

// HostInfo is one agent found by "netctl hosts" (one element of its -o json
// array). Health is nil and Error set when the agent did not answer.
type HostInfo struct {
	Name   string      `json:"name"`
	Socket string      `json:"socket"`
	Health *api.Health `json:"health,omitempty"`
	Error  string      `json:"error,omitempty"`
}

func newHostsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "hosts",
		Short: "List the agents found under $NFH_RUN_DIR and whether they answer",
		Long: `List the testbed agents: every $NFH_RUN_DIR/<host>/api.sock (NFH_RUN_DIR
defaults to /run/nfhandoff), each asked for its health: the host name it
reports, its version, the accelerator its guests use (kvm or tcg) and how
many VMs it runs. --host is ignored: all agents are listed.

Exits 1 when no agent is found or any agent does not answer, so scripts can
wait for the testbed with it.`,
		Example: `  netctl hosts
  netctl hosts -o json`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return runHosts(cmd.Context(), g)
		}),
	}
}

func runHosts(ctx context.Context, g *globals) error {
	names := discover(g.runDir())
	infos := make([]HostInfo, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		t := g.newTarget(name)
		infos[i] = HostInfo{Name: name, Socket: t.socket}
		wg.Go(func() {
			h, err := call(ctx, g, t, t.client.Health)
			if err != nil {
				infos[i].Error = err.Error()
				return
			}
			infos[i].Health = &h
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.printHosts(infos); err != nil {
		return err
	}
	if len(names) == 0 {
		return withHint(fmt.Errorf("no agents found under %s", g.runDir()), "%s", startHint)
	}
	var down []error
	for _, in := range infos {
		if in.Error != "" {
			down = append(down, errors.New(in.Error))
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%d of %d agents not answering:\n%w", len(down), len(infos), errors.Join(down...))
	}
	return nil
}

func (g *globals) printHosts(infos []HostInfo) error {
	if g.jsonOut() {
		return g.printJSON(infos)
	}
	if len(infos) == 0 {
		return nil
	}
	tw := newTable(g.env.Stdout)
	fmt.Fprintln(tw, "HOST\tSTATUS\tAGENT\tVERSION\tACCEL\tVMS\tSOCKET")
	for _, in := range infos {
		if h := in.Health; h != nil {
			fmt.Fprintf(tw, "%s\tup\t%s\t%s\t%s\t%s\t%s\n", in.Name, h.Host, or(h.Version, "-"), or(h.Accel, "-"), strconv.Itoa(h.VMs), in.Socket)
			continue
		}
		fmt.Fprintf(tw, "%s\tunreachable\t-\t-\t-\t-\t%s\n", in.Name, in.Socket)
	}
	return tw.Flush()
}
