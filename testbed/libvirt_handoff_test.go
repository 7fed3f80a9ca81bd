package testbed

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// libvirtHandoffMoves is how many times TestIntegrationLibvirtHandoff
// moves its domain (issue 14: back and forth 5 times).
const libvirtHandoffMoves = 5

// TestIntegrationLibvirtHandoff is issue 14's nfhandoff as libvirt's
// migration pipe: each agent runs in libvirt mode with its daemon's
// read-write socket and the address of its daemon's TLS listener, and
// `netctl migrate DOMAIN --to HOST --verify` (TWAMP-light at 1000 pps)
// moves a domain with the vnf image back and forth 5 times: libvirt's
// peer-to-peer migration, its stream through the agents' QUIC pipe (a
// UNIX socket under each daemon's /run/libvirt), its control connection
// on libvirt's own TLS, the destination left paused until the agent
// resumes it with the hand-off ready. Every move completes; what the test
// traffic lost is at most what the two hand-offs counted as dropped, and
// 0 in at least 4 of 5 moves; the domain runs on exactly one daemon (one
// QEMU, in that host's namespace), the same boot, its memory intact.
func TestIntegrationLibvirtHandoff(t *testing.T) {
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

	def, _ := libvirtGuest(t, env, append([]string{"--wss", "32", "--dirty-rate", "1"}, trafficVerifier...)...)
	xmlFile := filepath.Join(t.TempDir(), libvirtDomain+".xml")
	if err := os.WriteFile(xmlFile, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	virsh(t, libvirt.URI(env.LibvirtSocket("hostA")), "create", xmlFile)
	destroyLibvirtDomainAtEnd(t, env)
	waitListed(ctx, t, api.NewClient(env.Socket("hostA")), true)
	first := vnfAnswers(ctx, t, env, 3*time.Minute)
	first = verifiedPass(ctx, t, env, first)
	t.Logf("vnf on hostA: boot %x, %d working-set pages verified", first.BootID, first.PagesVerified)

	from, to := "hostA", "hostB"
	var lossy []string
	for move := 1; move <= libvirtHandoffMoves; move++ {
		before := vnfAnswers(ctx, t, env, 30*time.Second)
		waitListed(ctx, t, api.NewClient(env.Socket(from)), true)
		r := migrateVerifiedVM(ctx, t, env, libvirtDomain, from, to)
		m, v := r.M, r.V
		t.Logf("move %d %s -> %s: %s", move, from, to, handoffLine(r))
		switch {
		case m.State != api.MigrationCompleted:
			t.Fatalf("move %d: %s: %s: %s, want completed", move, m.ID, m.State, m.Reason)
		case v.Sent == 0 || v.Sent != v.Received+v.Lost:
			t.Fatalf("move %d: sent %d, received %d, lost %d: want traffic, sent = received + lost", move, v.Sent, v.Received, v.Lost)
		case v.Duplicated != 0 || v.Reordered != 0:
			t.Fatalf("move %d: duplicated %d, reordered %d: want 0", move, v.Duplicated, v.Reordered)
		case m.Handoff == nil:
			t.Fatalf("move %d: the record has no hand-off report", move)
		}
		counted := m.Handoff.Source.DroppedTotal() + m.Handoff.Destination.DroppedTotal()
		if uint64(v.Lost) > counted {
			t.Fatalf("move %d: the test traffic lost %d packets, the hand-offs counted %d dropped (source %v, destination %v)\n%s",
				move, v.Lost, counted, m.Handoff.Source.Dropped, m.Handoff.Destination.Dropped, badSamples(r))
		}
		if v.Lost > 0 {
			lossy = append(lossy, m.ID)
			t.Logf("move %d lost %d, counted: source %v, destination %v", move, v.Lost, m.Handoff.Source.Dropped, m.Handoff.Destination.Dropped)
		}
		onlyOn(t, daemons, to)
		inNamespace(t, oneDomainQEMU(t), "nfh-"+to)
		after := verifiedPass(ctx, t, env, before)
		if after.BootID != first.BootID {
			t.Fatalf("move %d: vnf boot id %x, was %x: the guest restarted", move, after.BootID, first.BootID)
		}
		t.Logf("move %d: vnf on %s verified %d pages since the move, %d corrupt, %d stale", move, to,
			after.PagesVerified-before.PagesVerified, after.CorruptPages, after.StalePages)
		from, to = to, from
	}
	if len(lossy) > 1 {
		t.Fatalf("%d of %d moves lost test packets (%v): want 0 in at least %d", len(lossy), libvirtHandoffMoves, lossy, libvirtHandoffMoves-1)
	}
}
