package cli

import (
	"fmt"
	"hash/fnv"

	"github.com/spf13/cobra"
)

func newVMCmd(g *globals) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "vm",
		Short: "Start, list, inspect and stop VNF guests on an agent",
		Long: `Manage the VNF guests (QEMU VMs running the project's vnf) of the agent
chosen with --host (or NFH_HOST).`,
		Example: `  netctl --host hostA vm start fw1 --ip 198.18.0.100/24 --gw 198.18.0.1 -- --wss 64
  netctl --host hostA vm list
  netctl --host hostA vm status fw1
  netctl --host hostA vm stop fw1`,
	})
	cmd.AddCommand(
		newVMStartCmd(g),
		newVMListCmd(g),
		newVMStatusCmd(g),
		newVMStopCmd(g),
	)
	return cmd
}

// DeriveMAC returns the MAC address netctl gives a VM named name when none is
// set: the QEMU prefix 52:54:00 (locally administered, unicast) followed by
// the low three bytes of the name's FNV-32a hash. The same name always gets
// the same address, so a VM keeps its MAC across restarts and hosts.
func DeriveMAC(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", byte(s>>16), byte(s>>8), byte(s))
}
