package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Faults the tests inject and operators can inject by hand (the command in
// testbed/fault): cut and restore the agents' path between two hosts, kill
// or restart an agent or a guest's QEMU, each optionally once a migration
// reaches a named phase.

// Phase is a point of a migration a fault can wait for, as the source's
// record shows it.
type Phase string

// Phases.
const (
	PhasePrecopy    Phase = "precopy"    // pre-copy, some memory sent
	PhaseSwitchover Phase = "switchover" // the guest stopped, its traffic in BUFFER
	PhasePostcopy   Phase = "postcopy"   // post-copy: the guest runs at the destination
	PhaseCommitted  Phase = "committed"  // the source has decided: the destination runs the guest
)

// Phases lists every Phase, for usage texts.
var Phases = []Phase{PhasePrecopy, PhaseSwitchover, PhasePostcopy, PhaseCommitted}

// ParsePhase returns the Phase named s.
func ParsePhase(s string) (Phase, error) {
	for _, p := range Phases {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown phase %q (one of %v)", s, Phases)
}

// Reached reports whether m is at or past p; false once m has ended.
func (p Phase) Reached(m api.Migration) bool {
	if api.Ended(m.State) {
		return false
	}
	switch p {
	case PhasePrecopy:
		return m.State == api.MigrationActive && m.Progress.Transferred > 0
	case PhaseSwitchover:
		return m.State == api.MigrationSwitchover
	case PhasePostcopy:
		return m.State == api.MigrationPostcopy
	case PhaseCommitted:
		return m.Committed
	}
	return false
}

// WaitPhase waits until the migration of vm whose source is host reaches
// p, and returns its record; it fails if the migration ends first or none
// starts before ctx ends.
func (e Env) WaitPhase(ctx context.Context, host, vm string, p Phase) (api.Migration, error) {
	c := api.NewClient(e.Socket(host))
	var seen string // the migration being watched, once one is
	for {
		list, err := c.ListMigrations(ctx)
		for _, m := range list {
			if m.VM != vm || m.Role != "source" || (seen != "" && m.ID != seen) {
				continue
			}
			if seen == "" && api.Ended(m.State) {
				continue // an earlier one
			}
			seen = m.ID
			if p.Reached(m) {
				return m, nil
			}
			if api.Ended(m.State) {
				return m, fmt.Errorf("%s ended (%s: %s) before %s", m.ID, m.State, m.Reason, p)
			}
		}
		select {
		case <-ctx.Done():
			return api.Migration{}, fmt.Errorf("waiting for a migration of %s from %s to reach %s: %w (last error: %v)", vm, host, p, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// peerAddrs reads the testbed's peers file: each host's agent address.
func (e Env) peerAddrs() (map[string]netip.AddrPort, error) {
	path := filepath.Join(e.RunDir, "peers")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the testbed's peers file (is it up?): %w", err)
	}
	defer f.Close()
	peers := map[string]netip.AddrPort{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		ap, err := netip.ParseAddrPort(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		peers[fields[0]] = ap
	}
	return peers, sc.Err()
}

// switchNS is the namespace of the testbed's switch (its bridge joins the
// hosts' uplinks).
const switchNS = "sw"

// cutTable is the nftables table, in the switch's namespace, that cuts the
// path between a and b.
func cutTable(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "nfh_cut_" + a + "_" + b
}

// CutPath silently drops the agents' traffic between hosts a and b, both
// ways, where the network would: on the switch's bridge, by an nftables
// table in its namespace. QUIC (UDP) and lanes (TCP) to and from either
// agent's port are dropped; the guests' traffic and the VXLAN tunnel pass.
// Neither agent sees an error: only silence. Cutting a cut path is an
// error.
func (e Env) CutPath(ctx context.Context, a, b string) error {
	peers, err := e.peerAddrs()
	if err != nil {
		return err
	}
	pa, ok := peers[a]
	pb, ok2 := peers[b]
	if !ok || !ok2 || a == b {
		return fmt.Errorf("cutting %s from %s: not two hosts of the testbed (%v)", a, b, peers)
	}
	if !pa.Addr().Is4() || !pb.Addr().Is4() {
		return fmt.Errorf("cutting %s from %s: %s or %s is not IPv4", a, b, pa, pb)
	}
	// To and from either agent's port, both ways; the counters tell
	// RestorePath what the cut dropped.
	var rules strings.Builder
	for _, d := range [][2]netip.AddrPort{{pa, pb}, {pb, pa}} {
		for _, dir := range []string{"dport", "sport"} {
			port := d[1].Port()
			if dir == "sport" {
				port = d[0].Port()
			}
			fmt.Fprintf(&rules, "\t\tip saddr %s ip daddr %s meta l4proto { tcp, udp } th %s %d counter drop\n",
				d[0].Addr(), d[1].Addr(), dir, port)
		}
	}
	script := fmt.Sprintf("table bridge %s {\n\tchain cut {\n\t\ttype filter hook forward priority -10; policy accept;\n%s\t}\n}\n",
		cutTable(a, b), rules.String())
	if out, err := e.nft(ctx, switchNS, script, "-f", "-"); err != nil {
		return fmt.Errorf("cutting %s from %s: %w: %s", a, b, err, out)
	}
	return nil
}

// RestorePath undoes CutPath(a, b) and returns how many packets the cut
// dropped.
func (e Env) RestorePath(ctx context.Context, a, b string) (dropped uint64, err error) {
	out, err := e.nft(ctx, switchNS, "", "list", "table", "bridge", cutTable(a, b))
	if err != nil {
		return 0, fmt.Errorf("restoring the path between %s and %s (is it cut?): %w: %s", a, b, err, out)
	}
	for _, f := range strings.Split(out, "packets ")[1:] {
		n, _ := strconv.ParseUint(strings.Fields(f)[0], 10, 64)
		dropped += n
	}
	if out, err := e.nft(ctx, switchNS, "", "delete", "table", "bridge", cutTable(a, b)); err != nil {
		return dropped, fmt.Errorf("restoring the path between %s and %s: %w: %s", a, b, err, out)
	}
	return dropped, nil
}

// nft runs nft with args in the testbed namespace nfh-<ns>, stdin as its
// input.
func (e Env) nft(ctx context.Context, ns, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", "nfh-" + ns, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) || strings.Contains(string(out), "\"nft\": No such file") {
		return string(out), fmt.Errorf("nft not found: run testbed/deps")
	}
	return string(out), err
}

// AgentPID is the pid of host's agent, from its pid file.
func (e Env) AgentPID(host string) (int, error) {
	path := filepath.Join(e.RunDir, host, "migratord.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%s's agent: %w", host, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s's agent: pid file %s: %w", host, path, err)
	}
	return pid, nil
}

// StopAgent sends host's agent sig (SIGKILL: it dies; SIGTERM: it shuts
// down as on a graceful restart) and waits until it is gone.
func (e Env) StopAgent(ctx context.Context, host string, sig syscall.Signal) error {
	pid, err := e.AgentPID(host)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signalling %s's agent %d: %w", host, pid, err)
	}
	return waitGone(ctx, pid, fmt.Sprintf("%s's agent %d", host, pid))
}

// StartAgents starts every agent of the testbed that is not running (with
// e's agent arguments), as testbed/up does.
func (e Env) StartAgents(ctx context.Context) error {
	peers, err := e.peerAddrs()
	if err != nil {
		return err
	}
	_, err = e.Up(ctx, len(peers))
	return err
}

// KillQEMU kills (SIGKILL) the QEMU that runs vm on host, as host's agent
// knows it, and waits until it is gone; it returns its pid.
func (e Env) KillQEMU(ctx context.Context, host, vm string) (int, error) {
	v, err := api.NewClient(e.Socket(host)).GetVM(ctx, vm)
	if err != nil {
		return 0, fmt.Errorf("%s on %s: %w", vm, host, err)
	}
	if v.PID == 0 {
		return 0, fmt.Errorf("%s on %s has no QEMU (%s)", vm, host, v.State)
	}
	if err := syscall.Kill(v.PID, syscall.SIGKILL); err != nil {
		return v.PID, fmt.Errorf("killing %s's QEMU %d on %s: %w", vm, v.PID, host, err)
	}
	return v.PID, waitGone(ctx, v.PID, fmt.Sprintf("%s's QEMU %d", vm, v.PID))
}

// waitGone waits until pid is no longer a live process.
func waitGone(ctx context.Context, pid int, what string) error {
	for Alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still alive: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
