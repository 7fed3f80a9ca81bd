package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// A guest with a NIC on each segment: eth0 on the access segment (the
// client's), eth1 on the core (the server's, network "core").
const (
	twoNICsVM     = "fw2"
	twoNICsAccess = "198.18.0.120"
	twoNICsCore   = "198.19.0.120"
)

// twoNICsRates are the TWAMP-light rates per NIC tried, highest first: with
// two NICs up the guest's vnf answers in its Go socket reflector (the
// in-kernel one goes on a single interface), which keeps up with less.
var twoNICsRates = []int{500, 250, 100}

// nicFlow is TWAMP-light to one of the guest's NICs from the namespace on
// its segment.
type nicFlow struct {
	nic    int
	netns  string
	target netip.Addr
}

var twoNICsFlows = []nicFlow{
	{0, "nfh-client", netip.MustParseAddr(twoNICsAccess)},
	{1, "nfh-server", netip.MustParseAddr(twoNICsCore)},
}

// startFlows starts TWAMP-light at rate on every flow.
func startFlows(ctx context.Context, t *testing.T, rate int) []*verify.Sender {
	t.Helper()
	ss := make([]*verify.Sender, len(twoNICsFlows))
	for i, f := range twoNICsFlows {
		s, err := verify.Start(ctx, verify.Config{Target: netip.AddrPortFrom(f.target, twamp.Port), Rate: rate, Netns: f.netns}, nil)
		if err != nil {
			t.Fatalf("TWAMP-light to nic %d from %s: %v", f.nic, f.netns, err)
		}
		t.Cleanup(func() { s.Stop() })
		ss[i] = s
	}
	return ss
}

// twoNICsSustained reports whether the guest answered both flows of a
// probe once each and in order, the median round trip of every second but
// the first at most verify.ProbeMaxMedian (the reflector's sequence is shared by the
// two flows, so neither sees it continuous).
func twoNICsSustained(samples [][]verify.Sample, d time.Duration) (bool, string) {
	ok, line := true, ""
	for i, ss := range samples {
		p := verify.NewProbe(ss, 0, d)
		p.Report.ReflectorSeqContinuous = true // shared by the two flows
		ok = ok && p.Bounded()
		r := p.Report
		line += fmt.Sprintf("; nic %d: sent %d lost %d dup %d reordered %d medians %v", twoNICsFlows[i].nic, r.Sent, r.Lost, r.Duplicated, r.Reordered, p.Medians)
	}
	return ok, line
}

// TestIntegrationTwoNICs moves a guest with a NIC on the access segment
// and one on the core hostA→hostB→hostA under TWAMP-light on both NICs at
// once (from the client and from the server): every move completes, no
// test packet on either NIC is lost, duplicated or reordered, both ends'
// hand-off accounts list both NICs and drop nothing, and the guest is the
// same boot, its memory intact, on exactly one host.
func TestIntegrationTwoNICs(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "start", twoNICsVM, "--ip", twoNICsAccess+"/24", "--gw", gateway,
		"--nic", ","+twoNICsCore+"/24,core", "--mem", "128", "--", "--wss", "8", "--dirty-rate", "1", "--verify-rate", "2"); err != nil {
		t.Fatalf("vm start %s: %v", twoNICsVM, err)
	}
	before := guestStatus(ctx, t, api.NewClient(env.Socket("hostA")), twoNICsVM)

	rate := 0
	for _, r := range twoNICsRates {
		ss := startFlows(ctx, t, r)
		time.Sleep(probeFor)
		samples := make([][]verify.Sample, len(ss))
		for i, s := range ss {
			samples[i] = s.Stop()
		}
		ok, line := twoNICsSustained(samples, probeFor)
		t.Logf("probe at %d pps per nic: sustained %v%s", r, ok, line)
		if ok {
			rate = r
			break
		}
	}
	if rate == 0 {
		t.Fatalf("the guest does not sustain %d pps on each of its two NICs: this machine is too slow for the test", twoNICsRates[len(twoNICsRates)-1])
	}

	from, to := "hostA", "hostB"
	for move := 1; move <= 2; move++ {
		ss := startFlows(ctx, t, rate)
		time.Sleep(time.Second)
		m := migrate(ctx, t, env, from, api.MigrateRequest{VM: twoNICsVM, To: to})
		time.Sleep(2 * time.Second) // traffic after the move
		var src, dst api.HandoffStats
		if m.Handoff != nil {
			src = m.Handoff.Source
		}
		if dm, err := api.NewClient(env.Socket(to)).GetMigration(ctx, m.ID); err == nil && dm.Handoff != nil {
			dst = dm.Handoff.Destination
		}
		t.Logf("move %d %s→%s %s: %s (%s), paused %v", move, from, to, m.ID, m.State, m.Reason, time.Duration(m.Paused))
		if m.State != api.MigrationCompleted {
			t.Fatalf("move %d: migration %s %s (%s), want completed", move, m.ID, m.State, m.Reason)
		}
		for i, s := range ss {
			samples := s.Stop()
			r := verify.Analyze(samples, nil, verify.Limits{})
			f := twoNICsFlows[i]
			var ns, nd api.HandoffStats
			if f.nic < len(src.NICs) {
				ns = src.NICs[f.nic]
			}
			if f.nic < len(dst.NICs) {
				nd = dst.NICs[f.nic]
			}
			t.Logf("move %d nic %d (%s→%s): TWAMP sent %d lost %d dup %d reordered %d, largest gap %v; source mirrored %d buffered %d residue %d flushed %d forwarded %d dropped %v; destination held %d flushed %d released %d garps %d dropped %v",
				move, f.nic, f.netns, f.target, r.Sent, r.Lost, r.Duplicated, r.Reordered, time.Duration(r.LargestGap),
				ns.Mirrored, ns.Buffered, ns.Residue, ns.Flushed, ns.Forwarded, ns.Dropped, nd.Held, nd.Flushed, nd.Released, nd.GARPs, nd.Dropped)
			if r.Sent == 0 || r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 {
				t.Errorf("move %d nic %d: TWAMP sent %d, lost %d, duplicated %d, reordered %d: want 0 lost, duplicated, reordered; %s",
					move, f.nic, r.Sent, r.Lost, r.Duplicated, r.Reordered, lostWhen(samples))
			}
		}
		if len(src.NICs) != 2 || len(dst.NICs) != 2 {
			t.Errorf("move %d: hand-off accounts list %d NICs at the source, %d at the destination, want 2 each", move, len(src.NICs), len(dst.NICs))
		}
		if len(dst.NICs) == 2 && dst.NICs[1].GARPs == 0 {
			t.Errorf("move %d: no gratuitous ARP for the core NIC (its network's uplink)", move)
		}
		if src.DroppedTotal()+dst.DroppedTotal() != 0 {
			t.Errorf("move %d: the hand-off dropped %v at the source, %v at the destination: want nothing", move, src.Dropped, dst.Dropped)
		}
		got := guestStatus(ctx, t, api.NewClient(env.Socket(to)), twoNICsVM)
		if pids := qemuOf(env, twoNICsVM); len(pids) != 1 {
			t.Errorf("move %d: QEMUs %v across the hosts, want one", move, pids)
		}
		absentFrom(ctx, t, env, from, twoNICsVM)
		sameGuest(t, before, got)
		if n := got.IntegrityErrors(); n != 0 {
			t.Errorf("move %d: %d integrity errors", move, n)
		}
		before = got
		from, to = to, from
	}
}
