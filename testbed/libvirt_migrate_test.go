package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// libvirtMoves is how often TestIntegrationLibvirtMigrate moves the guest
// with plain virsh (over libvirt's TLS) before the agents move it
// (libvirtHandoffMoves).
const libvirtMoves = 1

// libvirtBandwidth caps QEMU's migration bandwidth (virsh migrate
// --bandwidth, MiB/s) so that each move runs several rounds of dirty-page
// syncs while the vnf writes: at libvirt's default (unlimited, over a
// local socket) the guest moves in about one round, and QEMU 7.2's TCG
// bug did not show in 5 moves even without the RAM pad; at 8 MiB/s the
// guest without the pad died in its first move (a hand experiment,
// 2026-12-07).
const libvirtBandwidth = "8"

// TestIntegrationLibvirtMigrate moves the vnf guest, a transient libvirt
// domain under TCG, between hostA's and hostB's daemons with plain `virsh
// migrate --live --p2p --bandwidth 8` (QEMU's stream over a UNIX socket in
// the run dir, which both daemons' mount namespaces share), libvirtMoves
// times, while the vnf rewrites and verifies its working set page by
// page. After every move: QEMU still gives the guest migrator/vm's padded
// TCG RAM (the domain's qemu arguments travelled with its XML: without
// the pad QEMU 7.2 loses dirty pages under TCG and the guest dies, see
// libvirtBandwidth), the vnf is the same process (boot id) and has
// verified its whole working set since the move with 0 corrupt and 0
// stale pages, the domain runs on exactly one host and one QEMU of it is
// left, in that host's namespace. Then the agents, in libvirt mode with
// their daemons' read-write sockets, move it back and forth
// libvirtHandoffMoves times through their pipe (libvirtHandoffs).
//
// It is also the libvirt testbed's check (TestIntegrationLibvirtDomain
// once had a bring-up and a boot of its own): the two daemons have
// distinct host UUIDs, no libvirt network (virbr0, 192.168.122.0/24) shows
// up in the root or a host namespace; the domain's first QEMU runs in
// nfh-hostA with migrator/vm's -smp and padded RAM on a tap on hostA's
// bridge, known to hostA's daemon only, and answers the client's status
// query, echo and TWAMP-light; destroyed after the last move it leaves no
// QEMU, tap or domain, and testbed/down leaves nothing (upLibvirtTestbed).
func TestIntegrationLibvirtMigrate(t *testing.T) {
	env := requireTestbed(t)
	privtest.RequireCommand(t, "libvirtd", "virsh")
	requireDataplane(t, env)
	for _, h := range []string{"hostA", "hostB"} {
		env = env.WithAgentArgs(h, "--libvirt-socket="+env.LibvirtSocket(h), "--libvirt-uri="+env.LibvirtTLSURI(h),
			"--libvirt-run-dir="+filepath.Join(env.LibvirtDir(h), "run"))
	}
	upLibvirtTestbed(t, env, 2, true)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	daemons := map[string]*golibvirt.Libvirt{
		"hostA": dialLibvirt(ctx, t, env, "hostA"),
		"hostB": dialLibvirt(ctx, t, env, "hostB"),
	}
	ua, ub := hostUUID(t, daemons["hostA"]), hostUUID(t, daemons["hostB"])
	if ua == ub {
		t.Fatalf("hostA and hostB have the same host UUID %s: migration between them would be refused", ua)
	}
	t.Logf("host UUIDs: hostA %s, hostB %s", ua, ub)
	noLibvirtNetwork(t, "", "")
	for _, h := range []string{"hostA", "hostB"} {
		noLibvirtNetwork(t, "nfh-"+h, env.HostAddr(h))
	}
	tlsRefusesOtherCA(ctx, t, env)

	// 32 MiB rewritten at 1 MiB/s and verified at the vnf's default rate:
	// a load two TCG cores sustain next to the migrations.
	dom, spec := startLibvirtDomain(t, env, daemons["hostA"], append([]string{"--wss", "32", "--dirty-rate", "1"}, trafficVerifier...)...)
	firstBoot(t, env, daemons["hostA"], dom, spec)
	onlyOn(t, daemons, "hostA")
	first := vnfAnswers(ctx, t, env, 3*time.Minute)
	t.Logf("vnf answers from the client: boot %x, reflected %d", first.BootID, first.PacketsReflected)
	echo(t, 5)
	twampLight(t, 5)
	first = verifiedPass(ctx, t, env, first)
	t.Logf("vnf on hostA: boot %x, %d working-set pages, %d verified", first.BootID, first.WSSPages, first.PagesVerified)

	from, to := "hostA", "hostB"
	for move := 1; move <= libvirtMoves; move++ {
		before := vnfAnswers(ctx, t, env, 30*time.Second)
		// The control connection is libvirt's TLS to the destination's
		// host (the agents' moves below use it too).
		dest := env.LibvirtTLSURI(to)
		out := virshMigrate(ctx, t, env, from, dest, move, "--bandwidth", libvirtBandwidth)
		t.Logf("move %d %s -> %s (%s): %s", move, from, to, dest, out)
		onlyOn(t, daemons, to)
		pid := oneDomainQEMU(t)
		inNamespace(t, pid, "nfh-"+to)
		d, err := daemons[to].DomainLookupByName(libvirtDomain)
		if err != nil {
			t.Fatalf("move %d: %s's daemon: %v", move, to, err)
		}
		guestRAM(t, daemons[to], d, spec)
		echo(t, 3)
		after := verifiedPass(ctx, t, env, before)
		if after.BootID != first.BootID {
			t.Fatalf("move %d: vnf boot id %x, was %x: the guest restarted", move, after.BootID, first.BootID)
		}
		t.Logf("move %d: vnf on %s verified %d pages since the move, %d corrupt, %d stale", move, to,
			after.PagesVerified-before.PagesVerified, after.CorruptPages, after.StalePages)
		from, to = to, from
	}
	from = libvirtHandoffs(ctx, t, env, daemons, from, first)
	from = operatorMove(ctx, t, env, daemons, from, first)

	// Destroyed where it runs now (from, after the last swap), the
	// domain leaves no QEMU, tap or domain behind.
	pid := oneDomainQEMU(t)
	d, err := daemons[from].DomainLookupByName(libvirtDomain)
	if err != nil {
		t.Fatalf("%s's daemon: %v", from, err)
	}
	if err := daemons[from].DomainDestroy(d); err != nil {
		t.Fatalf("destroying domain: %v", err)
	}
	waitExited(t, pid, 30*time.Second)
	onlyOn(t, daemons, "")
	if err := exec.Command("ip", "-n", "nfh-"+from, "link", "show", vm.TapName(libvirtDomain)).Run(); err == nil {
		t.Errorf("tap %s still exists in nfh-%s after destroy", vm.TapName(libvirtDomain), from)
	}
}

// firstBoot checks the test domain just started on hostA's daemon l: its
// QEMU runs in nfh-hostA with migrator/vm's -smp (maxcpus=2 keeps TCG's
// memory barriers, migrator/vm's smpArg) and its padded TCG RAM (libvirt
// rounds <memory> up to whole MiB; the domain's qemu arguments give QEMU
// the pad all the same), on a tap on hostA's bridge.
func firstBoot(t *testing.T, env Env, l *golibvirt.Libvirt, dom golibvirt.Domain, spec api.VMSpec) {
	t.Helper()
	pid := domainPID(t, env, "hostA")
	t.Logf("domain %s started on hostA: qemu pid %d", dom.Name, pid)
	inNamespace(t, pid, "nfh-hostA")
	cmdline := processArgs(t, pid)
	t.Logf("qemu: %s", strings.Join(cmdline, " "))
	if s := argAfter(cmdline, "-smp"); !strings.HasPrefix(s, "1,maxcpus=2") {
		t.Errorf("qemu -smp %q: want 1,maxcpus=2", s)
	}
	guestRAM(t, l, dom, spec)
	tap := vm.TapName(libvirtDomain)
	if out, err := exec.Command("ip", "-n", "nfh-hostA", "-o", "link", "show", tap).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "master "+vm.DefaultBridge) {
		t.Fatalf("tap %s on %s in nfh-hostA: %v %s", tap, vm.DefaultBridge, err, out)
	}
}

// virshMigrate moves the test domain from one host's daemon to the daemon
// at URI to (which the source daemon dials: --p2p) as an operator would,
// with virsh's further options opts, and returns virsh's output.
func virshMigrate(ctx context.Context, t *testing.T, env Env, from, to string, move int, opts ...string) string {
	t.Helper()
	sock := filepath.Join(env.RunDir, fmt.Sprintf("lvmig-%d.sock", move))
	defer os.Remove(sock)
	mctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	args := append([]string{"-c", libvirt.URI(env.LibvirtSocket(from)), "migrate", "--live", "--p2p", "--verbose",
		libvirtDomain, to, "--migrateuri", "unix://" + sock}, opts...)
	out, err := exec.CommandContext(mctx, "virsh", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("move %d %s -> %s: virsh migrate: %v\n%s", move, from, to, err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// onlyOn fails t unless the test domain is active on host's daemon and
// known to no other daemon (a transient domain: not defined either); host
// "" means on none.
func onlyOn(t *testing.T, daemons map[string]*golibvirt.Libvirt, host string) {
	t.Helper()
	for h, l := range daemons {
		doms, _, err := l.ConnectListAllDomains(1, 0)
		if err != nil {
			t.Fatalf("%s's domains: %v", h, err)
		}
		var names []string
		for _, d := range doms {
			names = append(names, d.Name)
		}
		want := []string(nil)
		if h == host {
			want = []string{libvirtDomain}
		}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Fatalf("%s's daemon has domains %v, want %v", h, names, want)
		}
		if h == host {
			if state, _, err := l.DomainGetState(doms[0], 0); err != nil || golibvirt.DomainState(state) != golibvirt.DomainRunning {
				t.Fatalf("domain %s on %s: state %d (%v), want running", libvirtDomain, h, state, err)
			}
		}
	}
}

// oneDomainQEMU waits until exactly one QEMU of the test domain is left
// (the source's quits as the migration completes) and returns its pid.
func oneDomainQEMU(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := domainQEMUs()
		if len(pids) == 1 {
			return pids[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d QEMU processes of %s (%v), want exactly one", len(pids), libvirtDomain, pids)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// verifiedPass waits until the vnf has verified at least its whole working
// set since since was taken, failing t on any corrupt or stale page, and
// returns the status that shows it.
func verifiedPass(ctx context.Context, t *testing.T, env Env, since vnfproto.Status) vnfproto.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := vnfAnswers(ctx, t, env, 30*time.Second)
		if st.CorruptPages != 0 || st.StalePages != 0 {
			t.Fatalf("vnf integrity: %d corrupt, %d stale pages", st.CorruptPages, st.StalePages)
		}
		if st.WSSPages > 0 && st.PagesVerified >= since.PagesVerified+st.WSSPages {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("vnf verified %d of its %d working-set pages in 2 minutes", st.PagesVerified-since.PagesVerified, st.WSSPages)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
