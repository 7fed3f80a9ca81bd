package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

func newVMListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the agent's guests",
		Long: `List the guests of the agent chosen with --host: name, state (starting,
running, stopped, failed), address, MAC, accelerator, QEMU's pid and the
time since the guest started, and its source: nfhandoff for the agent's
own guests, libvirt for the domains of the host's libvirt daemon that an
agent in libvirt mode (migratord --libvirt-socket) watches (it attaches
its dataplane to their taps and never stops or changes them). A guest with several NICs lists every
NIC's address and MAC, comma-separated in NIC order; an address on a host
network other than the default one reads ADDR@NETWORK. -o json prints the
agent's VM records.`,
		Example: `  netctl --host hostA vm list
  netctl --host hostA vm list -o json`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			return runVMList(cmd.Context(), g)
		}),
	}
}

func runVMList(ctx context.Context, g *globals) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	vms, err := call(ctx, g, t, t.client.ListVMs)
	if err != nil {
		return fmt.Errorf("listing VMs on %s: %w", t.name, err)
	}
	if vms == nil {
		vms = []api.VM{} // "[]", not "null"
	}
	if g.jsonOut() {
		return g.printJSON(vms)
	}
	if len(vms) == 0 {
		fmt.Fprintf(g.env.Stderr, "no VMs on %s\n", t.name)
		return nil
	}
	tw := newTable(g.env.Stdout)
	fmt.Fprintln(tw, "NAME\tSTATE\tADDRESS\tMAC\tACCEL\tPID\tUPTIME\tSOURCE")
	for _, vm := range vms {
		pid := "-"
		if vm.PID > 0 {
			pid = strconv.Itoa(vm.PID)
		}
		var addrs, macs []string
		for _, n := range vm.Spec.AllNICs() {
			a := or(n.Address, "-")
			if n.Network != "" {
				a += "@" + n.Network
			}
			addrs, macs = append(addrs, a), append(macs, n.MAC)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", vm.Spec.Name, vm.State, strings.Join(addrs, ","),
			strings.Join(macs, ","), or(vm.Accel, "-"), pid, g.uptime(vm), source(vm))
	}
	return tw.Flush()
}

// source is where a guest comes from: "nfhandoff" for the agent's own,
// else the engine that runs it (api.VM.Source, e.g. libvirt).
func source(vm api.VM) string { return or(vm.Source, "nfhandoff") }

// uptime is the time since a running or starting guest started, or "-".
func (g *globals) uptime(vm api.VM) string {
	if vm.Started.IsZero() || (vm.State != api.StateRunning && vm.State != api.StateStarting) {
		return "-"
	}
	return fmtDuration(g.env.now().Sub(vm.Started).Truncate(time.Second))
}
