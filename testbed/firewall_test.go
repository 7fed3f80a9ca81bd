package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/iperf"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// The firewall VNF: eth0 on the access segment at guestIP (so the usual
// checks find it), eth1 on the core; the client routes the core through
// it, and it masquerades what it forwards there.
const (
	firewallCore = "198.19.0.100"
	serverIP     = "198.19.0.2" // nfh-server: the testbed's reflector, and iperf3's server
	coreNet      = "198.19.0.0/24"
)

// routerArgs make the guest's vnf a stateful firewall/NAT from eth0 to eth1.
var routerArgs = []string{"--router", "eth0:eth1"}

// Through the firewall, TCP is iperf3 at tcpBitrate for tcpFor: a load the
// TCG guest forwards with room to spare.
const (
	tcpBitrate = 10_000_000
	tcpFor     = 20 * time.Second
	iperfPort  = 5202 // its own one-off server, beside the testbed's on 5201
)

// startFirewall starts fw1 on host as the firewall and routes the client's
// traffic for the core through it.
func startFirewall(ctx context.Context, t *testing.T, env Env, host string) api.GuestStatus {
	t.Helper()
	args := append([]string{"--host", host, "vm", "start", "fw1", "--ip", guestAddr, "--gw", gateway,
		"--nic", "," + firewallCore + "/24,core", "--mem", "192", "--"}, routerArgs...)
	args = append(append(args, "--wss", "16", "--dirty-rate", "1"), trafficVerifier...)
	if _, _, err := env.Netctl(ctx, args...); err != nil {
		t.Fatalf("vm start fw1 (firewall): %v", err)
	}
	if out, err := exec.CommandContext(ctx, "ip", "-n", "nfh-client", "route", "replace", coreNet, "via", guestIP).CombinedOutput(); err != nil {
		t.Fatalf("routing the core through the firewall: %v: %s", err, out)
	}
	g := guestOn(ctx, t, env, host, "fw1")
	if g.Router == nil || !g.Router.Up {
		t.Fatalf("fw1 is no firewall: %s", firewallLine(g))
	}
	return g
}

// firewallLine is the firewall's own account in its status.
func firewallLine(g api.GuestStatus) string {
	r := g.Router
	if r == nil {
		return "no router"
	}
	n := func(p *uint64) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("up %v (failed step %q), conntrack entries %s, forward drops %s", r.Up, r.FailedStep, n(r.ConntrackEntries), n(r.ForwardDrops))
}

// serverPeers lists the peers (address:port) of the TCP connections to
// iperf3's port established in the server's namespace: behind the NAT,
// the firewall's core address and the ports it mapped.
func serverPeers(ctx context.Context, t *testing.T) []string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", "nfh-server", "ss", "-Htn", "state", "established",
		fmt.Sprintf("( sport = :%d )", iperfPort)).Output()
	if err != nil {
		t.Fatalf("ss in nfh-server: %v", err)
	}
	var peers []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			peers = append(peers, f[len(f)-1])
		}
	}
	slices.Sort(peers)
	return peers
}

// TestIntegrationFirewall moves a two-NIC firewall/NAT VNF (nftables,
// conntrack, masquerade towards the core) between hostA and hostB with
// the traffic going through it, not to it:
//   - five moves under TWAMP-light at 1000 pps from the client to the
//     server's reflector behind the firewall (netctl migrate --verify
//     --verify-target): nothing lost, duplicated or reordered, the
//     reflector's sequence continuous, neither end's hand-off dropping a
//     frame on either NIC, the guest the same boot, intact, on one host;
//   - a 20 s iperf3 TCP flow from the client to the server across a move:
//     it completes without a reset, and the server sees the same NAT
//     mapping (the firewall's core address and ports) before and after;
//     the move is netctl migrate --verify --verify-tcp, whose own TCP
//     flow must survive too.
func TestIntegrationFirewall(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	first := startFirewall(ctx, t, env, "hostA")
	last := first

	// The path must sustain the load before a move means anything.
	p, err := probeAt(ctx, netip.MustParseAddr(serverIP), 1000, probeFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("through the firewall, not moving: %s (bounded %v)", p, p.Bounded())
	if !p.Bounded() {
		t.Fatalf("the firewall does not forward 1000 pps with bounded latency when not moving: %s", p)
	}

	from, to := "hostA", "hostB"
	t.Run("five moves at 1000 pps through the firewall", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			r := migrateVerified(ctx, t, env, from, to, "--verify-target", serverIP, "--verify-rate", "1000",
				"--verify-before", "1s", "--verify-after", "2s")
			t.Logf("move %d: %s", i, handoffLine(r))
			got := guestOn(ctx, t, env, to, "fw1")
			t.Logf("move %d: firewall %s", i, firewallLine(got))
			lossless(t, r)
			if got.Router == nil || !got.Router.Up || got.Router.ConntrackEntries == nil || *got.Router.ConntrackEntries == 0 {
				t.Fatalf("move %d: the firewall's state after the move: %s; want up, tracking the flows", i, firewallLine(got))
			}
			if h := r.M.Handoff; h == nil || len(h.Source.NICs) != 2 || len(h.Destination.NICs) != 2 {
				t.Fatalf("move %d: the hand-off account does not list both NICs: %+v", i, h)
			}
			absentFrom(ctx, t, env, from, "fw1")
			sameGuest(t, last, got)
			last = got
			from, to = to, from
		}
	})
	if t.Failed() {
		return
	}

	t.Run("iperf3 TCP across a move", func(t *testing.T) {
		srv, err := iperf.StartServer(ctx, "nfh-server", netip.MustParseAddr(serverIP), iperfPort)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		type outcome struct {
			r   iperf.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			r, err := iperf.Client{Netns: "nfh-client", Server: netip.MustParseAddr(serverIP), Port: iperfPort,
				Duration: tcpFor, Bitrate: tcpBitrate}.Run(ctx)
			done <- outcome{r, err}
		}()
		time.Sleep(3 * time.Second)
		before := serverPeers(ctx, t)
		// The operator's check rides along: netctl's own TCP flow (to the
		// testbed's iperf3 server) and TWAMP-light, both through the VNF.
		r := migrateVerified(ctx, t, env, from, to, "--verify-target", serverIP, "--verify-rate", "200",
			"--verify-before", "1s", "--verify-after", "2s", "--verify-tcp", "--verify-tcp-mbps", "2")
		t.Logf("move with --verify-tcp: %s", handoffLine(r))
		lossless(t, r)
		var tcp struct {
			TCP *verify.TCPCheck `json:"tcp"`
		}
		if err := json.Unmarshal(r.M.Verification, &tcp); err != nil || tcp.TCP == nil || !tcp.TCP.Survived || tcp.TCP.Bytes == 0 {
			t.Fatalf("netctl's TCP check: %+v (%v); want a flow that survived", tcp.TCP, err)
		}
		t.Logf("netctl's TCP check: %+v", *tcp.TCP)
		after := serverPeers(ctx, t)
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		sr, err := srv.Wait(ctx)
		if err != nil {
			t.Fatalf("iperf3 server: %v", err)
		}
		c := o.r
		t.Logf("iperf3 through the firewall across the move: %d bytes in %.1f s, %d retransmits, longest stall %v, error %q; server saw %s; NAT mappings before %v after %v",
			c.Bytes, c.Seconds, c.Retransmits, c.LongestStall, c.Error, sr.Conn, before, after)
		switch {
		case !c.Survived() || !sr.Survived():
			t.Errorf("the TCP flow did not survive the move: client %q, server %q", c.Error, sr.Error)
		case sr.Conn.RemoteHost != firewallCore:
			t.Errorf("the server saw the flow from %s, want the firewall's core address %s (masquerade)", sr.Conn.RemoteHost, firewallCore)
		case len(before) == 0 || !slices.Equal(before, after):
			t.Errorf("NAT mappings seen by the server: %v before the move, %v after: want the same, non-empty", before, after)
		}
		got := guestOn(ctx, t, env, to, "fw1")
		sameGuest(t, last, got)
		if got.BootID != first.BootID {
			t.Fatalf("boot id %s, want %s", got.BootID, first.BootID)
		}
	})
}
