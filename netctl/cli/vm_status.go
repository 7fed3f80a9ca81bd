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

func newVMStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show a guest's record, QEMU status and the vnf's own counters",
		Long: `Show everything the agent knows about guest NAME: its record (state,
address, MAC, accelerator, pid, tap, console log; for a guest with several
NICs, or one on a network other than the default, a line per NIC with its
address, MAC, host network and tap), QEMU's run state, and
what the vnf inside reports: packets reflected (TWAMP-light) and echoed,
the reflector's next sequence number, the memory workload's pages written
and verified, verify passes, integrity errors, uptime and boot id; and the
packets the guest's kernel dropped before they reached the vnf ("guest
drops": UDP receive-buffer and memory errors and all UDP in-errors from
/proc/net/snmp, which include the former two, and the rx_dropped of the
vnf's interface; counted since the guest booted, "-" where the guest did
not report one). A guest whose vnf runs with --router (a firewall/NAT
between two NICs) also shows the router: up or not (and the setup step
that failed: interfaces, modules, ruleset or forwarding), the connections
its conntrack tracks now and the packets its forward chain dropped (new
connections from the core side, or anything else the ruleset refuses).

"working set" is the latest report the vnf sent its agent of the memory it
uses (its working set first, "hot", then its code, stacks and heap), which
a post-copy migration fetches first: its pages, ranges, sequence number
and age, the reports received, and those the agent rejected (malformed);
"-o json" has it under working_set.

The boot id stays the same across a migration and changes when the guest
reboots; the reflector sequence continues across a migration. Integrity
errors (corrupt or stale pages) mean guest memory was damaged: they are
shown prominently and warned about on stderr, but the exit status is still
0. A router that is not up after its setup failed is warned about the same
way. It is 1 when the VM does not exist or the agent does not answer.`,
		Example: `  netctl --host hostA vm status fw1
  netctl --host hostA vm status fw1 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			return runVMStatus(cmd.Context(), g, args[0])
		}),
	}
}

func runVMStatus(ctx context.Context, g *globals, name string) error {
	t, err := g.target()
	if err != nil {
		return err
	}
	st, err := call(ctx, g, t, func(ctx context.Context) (api.VMStatus, error) {
		return t.client.VMStatus(ctx, name)
	})
	if err != nil {
		return fmt.Errorf("status of %s on %s: %w", name, t.name, err)
	}
	if gs := st.Guest; gs != nil && gs.IntegrityErrors() > 0 {
		defer g.warnf("%s reports integrity errors: %d corrupt, %d stale pages",
			name, gs.CorruptPages, gs.StalePages)
	}
	if gs := st.Guest; gs != nil && gs.Router != nil && gs.Router.FailedStep != "" {
		defer g.warnf("%s's router is not up: its setup failed at the %s step (see its console log)",
			name, gs.Router.FailedStep)
	}
	if g.jsonOut() {
		return g.printJSON(st)
	}
	return g.printVMStatus(st)
}

func (g *globals) printVMStatus(st api.VMStatus) error {
	s := st.Spec
	tw := newTable(g.env.Stdout)
	fmt.Fprintf(tw, "VM %s on %s\n", s.Name, or(st.Host, "?"))
	if st.Source != "" {
		fmt.Fprintf(tw, "  source:\t%s (watched: the agent attaches its dataplane, never stops or changes it)\n", st.Source)
		fmt.Fprintf(tw, "  state:\t%s (%s: %s)\n", st.State, st.Source, or(st.QEMUStatus, "unknown"))
	} else {
		fmt.Fprintf(tw, "  state:\t%s (qemu: %s)\n", st.State, or(st.QEMUStatus, "unknown"))
	}
	if st.Reason != "" {
		fmt.Fprintf(tw, "  reason:\t%s\n", st.Reason)
	}
	if oneDefaultNIC(s) {
		fmt.Fprintf(tw, "  address:\t%s, gateway %s\n", s.Address, or(s.Gateway, "none"))
		fmt.Fprintf(tw, "  mac:\t%s\n", s.MAC)
	} else {
		taps := st.AllTaps()
		for i, n := range s.AllNICs() {
			tap := ""
			if i < len(taps) {
				tap = taps[i]
			}
			fmt.Fprintf(tw, "  nic %d:\t%s, mac %s, network %s, tap %s\n", i, n.Address, n.MAC, network(n), or(tap, "-"))
		}
		fmt.Fprintf(tw, "  gateway:\t%s\n", or(s.Gateway, "none"))
	}
	fmt.Fprintf(tw, "  machine:\t%s, %d MiB, %d vCPU, accel %s\n", or(s.Image, "-"), s.MemoryMiB, s.VCPUs, or(st.Accel, "-"))
	fmt.Fprintf(tw, "  vnf args:\t%s\n", or(strings.Join(s.VNFArgs, " "), "none"))
	adopted := ""
	if st.Adopted {
		adopted = " (adopted after an agent restart)"
	}
	pid := "-" // a libvirt guest's QEMU pid is libvirt's
	if st.PID > 0 {
		pid = strconv.Itoa(st.PID)
	}
	fmt.Fprintf(tw, "  pid:\t%s%s\n", pid, adopted)
	fmt.Fprintf(tw, "  uptime:\t%s\n", g.uptime(st.VM))
	if oneDefaultNIC(s) {
		fmt.Fprintf(tw, "  tap:\t%s\n", or(st.Tap, "-"))
	}
	fmt.Fprintf(tw, "  console log:\t%s\n", or(st.ConsoleLog, "-"))
	if st.State == api.StateRunning && st.Source == "" {
		fmt.Fprintf(tw, "  working set:\t%s\n", workingSetLine(st.WorkingSet))
	}
	gs := st.Guest
	if gs == nil {
		fmt.Fprintf(tw, "vnf: not answering: %s\n", or(st.GuestError, "no status"))
		return tw.Flush()
	}
	fmt.Fprintln(tw, "vnf:")
	if n := gs.IntegrityErrors(); n > 0 {
		fmt.Fprintf(tw, "  INTEGRITY:\t%d ERRORS: %d corrupt, %d stale pages\n", n, gs.CorruptPages, gs.StalePages)
	} else {
		fmt.Fprintf(tw, "  integrity:\tok (0 corrupt, 0 stale pages)\n")
	}
	fmt.Fprintf(tw, "  boot id:\t%s\n", gs.BootID)
	fmt.Fprintf(tw, "  uptime:\t%s\n", fmtDuration(gs.Uptime.Truncate(time.Second)))
	fmt.Fprintf(tw, "  reflected packets:\t%d\n", gs.PacketsReflected)
	fmt.Fprintf(tw, "  echo packets:\t%d\n", gs.EchoPackets)
	fmt.Fprintf(tw, "  reflector seq:\t%d\n", gs.ReflectorSeq)
	fmt.Fprintf(tw, "  guest drops:\t%s\n", guestDrops(gs))
	if gs.Router != nil {
		fmt.Fprintf(tw, "  router:\t%s\n", guestRouter(gs.Router))
	}
	fmt.Fprintf(tw, "  pages:\t%d in working set, %d written, %d verified\n", gs.WSSPages, gs.PagesWritten, gs.PagesVerified)
	fmt.Fprintf(tw, "  verify passes:\t%d\n", gs.VerifyPasses)
	return tw.Flush()
}

// guestDrops is the "guest drops" line: the guest kernel's counters of
// packets dropped before the vnf saw them, "-" for one not reported.
func guestDrops(gs *api.GuestStatus) string {
	if gs.UDPInErrors == nil && gs.UDPRcvbufErrors == nil && gs.UDPMemErrors == nil && gs.RxDropped == nil {
		return "not reported (a vnf older than these counters?)"
	}
	n := func(p *uint64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatUint(*p, 10)
	}
	return fmt.Sprintf("udp rcvbuf %s, udp mem %s, in-errors %s, rx_dropped %s",
		n(gs.UDPRcvbufErrors), n(gs.UDPMemErrors), n(gs.UDPInErrors), n(gs.RxDropped))
}

// guestRouter is the "router" line of a router vnf: its state, then its
// conntrack entries and forward drops ("-" where not read).
func guestRouter(r *api.GuestRouter) string {
	switch {
	case r.FailedStep != "":
		return fmt.Sprintf("NOT UP: setup failed at the %s step (see the console log)", r.FailedStep)
	case !r.Up:
		return "not up yet (being set up)"
	}
	n := func(p *uint64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatUint(*p, 10)
	}
	return fmt.Sprintf("up, %s conntrack entries, %s forward drops", n(r.ConntrackEntries), n(r.ForwardDrops))
}
