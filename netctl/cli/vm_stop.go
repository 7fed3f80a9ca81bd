package cli

import (
	"context"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

func newVMStopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a guest and remove its tap and files",
		Long: `Stop guest NAME on the agent chosen with --host: QEMU is ended and the
agent removes the tap device and runtime files it made for the guest. The
guest's memory is lost. -o json prints the final record (state "stopped").
Exits 1 when the VM does not exist.`,
		Example: `  netctl --host hostA vm stop fw1`,
		Args:    cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			return runVMStop(cmd.Context(), g, args[0])
		}),
	}
}

func runVMStop(ctx context.Context, g *globals, name string) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	vm, err := call(ctx, g, t, func(ctx context.Context) (api.VM, error) {
		return t.client.StopVM(ctx, name)
	})
	if err != nil {
		return fmt.Errorf("stopping %s on %s: %w", name, t.name, err)
	}
	if g.jsonOut() {
		return g.printJSON(vm)
	}
	g.infof("%s: %s on %s", vm.Spec.Name, or(vm.State, api.StateStopped), or(vm.Host, t.name))
	return nil
}
