package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// printMigration prints the summary of one migration record: what was
// moved where, its state and, once it has ended, QEMU's final figures, the
// phases and every policy decision.
func (g *globals) printMigration(m api.Migration) {
	tw := newTable(g.env.Stdout)
	defer tw.Flush()
	fmt.Fprintf(tw, "migration %s: %s from %s to %s (%s)\n", m.ID, m.VM, or(m.From, "?"), or(m.To, "?"), or(m.Role, "source"))
	fmt.Fprintf(tw, "  state:\t%s\n", strings.ToUpper(or(m.State, "unknown")))
	if m.Reason != "" {
		fmt.Fprintf(tw, "  reason:\t%s\n", m.Reason)
	}
	if !m.Started.IsZero() {
		ago := ""
		if d := g.env.now().Sub(m.Started); d >= 0 {
			ago = " (" + fmtDuration(d.Truncate(time.Second)) + " ago)"
		}
		fmt.Fprintf(tw, "  started:\t%s%s\n", m.Started.Format(time.DateTime+" MST"), ago)
	}
	if !api.Ended(m.State) {
		if f := progressFields(m, true); len(f) > 0 {
			fmt.Fprintf(tw, "  progress:\t%s\n", strings.Join(f, ", "))
		}
		fmt.Fprintf(tw, "  elapsed:\t%s\n", dur(m.Progress.Elapsed))
	} else {
		fmt.Fprintf(tw, "  total time:\t%s\n", dur(m.TotalTime))
		fmt.Fprintf(tw, "  qemu downtime:\t%s\n", dur(m.QEMUDowntime))
		if m.Paused > 0 {
			fmt.Fprintf(tw, "  guest paused:\t%s (stop on %s to running on %s)\n", dur(m.Paused), or(m.From, "?"), or(m.To, "?"))
			if m.PausedParts != nil {
				fmt.Fprintf(tw, "  paused in:\t%s\n", m.PausedParts)
			}
		}
		fmt.Fprintf(tw, "  setup time:\t%s\n", dur(m.SetupTime))
		ram, wire := "-", "-"
		if m.RAM.Total > 0 {
			ram = fmtBytes(m.RAM.Transferred) + " transferred of " + fmtBytes(m.RAM.Total)
		}
		if m.WireBytes > 0 {
			wire = fmt.Sprintf("%s (%d bytes between the agents, QUIC and lanes)", fmtBytes(m.WireBytes), m.WireBytes)
		}
		fmt.Fprintf(tw, "  ram:\t%s\n", ram)
		fmt.Fprintf(tw, "  wire bytes:\t%s\n", wire)
		if c := m.Codec; c != nil {
			fmt.Fprintf(tw, "  page coding:\t%s\n", fmtCodec(c))
		}
		fmt.Fprintf(tw, "  passes:\t%d\n", passes(m))
	}
	pc := fmt.Sprintf("yes (%d page requests from the destination's faults)", m.RemoteFaults())
	if m.Recoveries > 0 {
		pc = fmt.Sprintf("yes (%d page requests from the destination's faults; its stream broke and was resumed %d time(s))",
			m.RemoteFaults(), m.Recoveries)
	}
	fmt.Fprintf(tw, "  post-copy:\t%s\n", yesNo(m.Postcopy, pc))
	if p := m.Prefetch; p != nil {
		fmt.Fprintf(tw, "  prefetch:\t%s\n", fmtPrefetch(p))
	}
	fmt.Fprintf(tw, "  throttle:\t%s\n", yesNo(m.Throttled > 0, fmt.Sprintf("%d%% of the guest's CPU", m.Throttled)))
	printHandoff(tw, m)
	r := m.Request
	fmt.Fprintf(tw, "  request:\tbandwidth %s (first pass %s), downtime target %s, postcopy %s, multifd %d, pipe %s, codec %s, timeout %s then %s\n",
		fmtRate(uint64(r.Bandwidth)), fmtRate(uint64(r.InitialBandwidth)), dur(r.DowntimeTarget), or(r.Postcopy, "?"),
		r.MultifdChannels, or(r.Pipe, api.PipeQUIC), or(r.Codec, api.CodecNone), dur(r.CompletionTimeout), or(r.TimeoutAction, "?"))
	if len(m.Phases) > 0 {
		fmt.Fprintf(tw, "  phases:\t%s\n", fmtPhases(m.Phases))
	}
	if len(m.Decisions) == 0 {
		fmt.Fprintf(tw, "  decisions:\tnone\n")
		return
	}
	fmt.Fprintf(tw, "  decisions:\t%d\n", len(m.Decisions))
	for _, d := range m.Decisions {
		fmt.Fprintf(tw, "    pass %d\t%s\n", d.Pass, fmtDecision(d))
	}
}

// passes is QEMU's dirty-sync count, from the final counters if there are any.
func passes(m api.Migration) int {
	if m.RAM.DirtySyncCount > 0 {
		return int(m.RAM.DirtySyncCount)
	}
	return m.Progress.Pass
}

// fmtPhases prints phases as "setup 120ms, precopy 2.1s, switchover 38ms".
func fmtPhases(ps []api.Phase) string {
	var s []string
	for _, p := range ps {
		if p.End.IsZero() {
			s = append(s, p.Name+" (running)")
			continue
		}
		s = append(s, p.Name+" "+fmtDuration(p.End.Sub(p.Start)))
	}
	return strings.Join(s, ", ")
}

// dur prints an api.Duration, "-" when zero.
func dur(d api.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmtDuration(time.Duration(d))
}

func yesNo(b bool, yes string) string {
	if b {
		return yes
	}
	return "no"
}

// fmtCodec says what page coding saved and how.
func fmtCodec(c *api.CodecReport) string {
	s := fmt.Sprintf("%s of QEMU's stream sent as %s", fmtBytes(uint64(c.QEMUBytes)), fmtBytes(uint64(c.LinkBytes)))
	if c.QEMUBytes > 0 {
		s += fmt.Sprintf(" (%.2f×)", float64(c.LinkBytes)/float64(c.QEMUBytes))
	}
	s += fmt.Sprintf("; %d pages: %d references, %d deltas, %d literal, %d unnamed",
		c.Pages, c.Refs, c.Deltas, c.Lits, c.Raw)
	if c.Refused != "" {
		s += "; not coded: " + c.Refused
	}
	return s
}
