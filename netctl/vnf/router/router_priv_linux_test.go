package router

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// The ruleset as the guest applies it, on this host's nft and kernel: the
// test's netns is the router between a client netns (access) and a server
// netns (core). A client's datagram reaches the server from the router's
// core address and its answer comes back; the server cannot open a flow
// to the client, and that drop is counted; the flow is tracked.
func TestPrivRouterForwards(t *testing.T) {
	privtest.EnterNetns(t, "nfh-rt")
	privtest.RequireCommand(t, "nft")
	client, server := privtest.NewNetNS(t, "nfh-rtc"), privtest.NewNetNS(t, "nfh-rts")
	wire(t, "acc", "192.0.2.1/24", client, "cli", "192.0.2.2/24", "0.0.0.0/0", "192.0.2.1")
	wire(t, "core", "198.51.100.1/24", server, "srv", "198.51.100.2/24", "192.0.2.0/24", "198.51.100.1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Setup(ctx, Config{In: "acc", Out: "core", ModuleList: emptyFile(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "1" {
		t.Fatalf("ip_forward = %q", b)
	}
	st := r.Status()
	if st.Flags != vnfproto.RouterRole|vnfproto.RouterUp|vnfproto.HasConntrack|vnfproto.HasForwardDrops || st.ForwardDrops != 0 {
		t.Fatalf("status after setup %+v", st)
	}

	srvConn := listenIn(t, server, "198.51.100.2:5000")
	cliConn := listenIn(t, client, "192.0.2.2:5001")
	from := exchange(t, cliConn, srvConn, netip.MustParseAddrPort("198.51.100.2:5000"))
	if from.Addr() != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("server saw the client as %v, want the router's core address (masquerade)", from)
	}

	// The server opens a flow of its own towards the client: dropped.
	opener := listenIn(t, server, "198.51.100.2:5002")
	opener.WriteToUDPAddrPort([]byte("unasked"), netip.MustParseAddrPort("192.0.2.2:5001"))
	cliConn.SetReadDeadline(time.Now().Add(time.Second))
	if n, src, err := cliConn.ReadFromUDPAddrPort(make([]byte, 64)); err == nil {
		t.Errorf("client got %d bytes the server opened, from %v", n, src)
	}
	st = r.Status()
	if st.ForwardDrops < 1 || st.ConntrackEntries < 1 {
		t.Errorf("status after the refused flow: %+v, want a forward drop and a tracked flow", st)
	}
	t.Logf("router status: %+v", st)

	// A second Setup (the vnf restarted) replaces the table whole.
	if _, err := Setup(ctx, Config{In: "acc", Out: "core", ModuleList: emptyFile(t)}, nil); err != nil {
		t.Fatalf("setting up again: %v", err)
	}
	if n, err := readCounter(Table, DropCounter); err != nil || n != 0 {
		t.Errorf("drop counter after a new setup: %d, %v", n, err)
	}
}

// A failed step is reported as such and leaves forwarding off.
func TestPrivRouterSetupFails(t *testing.T) {
	privtest.EnterNetns(t, "nfh-rt")
	for _, name := range []string{"acc", "core"} {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "-p"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	list := emptyFile(t)
	for _, tt := range []struct {
		name string
		cfg  Config
		step vnfproto.RouterStep
	}{
		{"missing interface", Config{In: "acc", Out: "eth9", ModuleList: list}, vnfproto.StepInterfaces},
		{"missing module list", Config{In: "acc", Out: "core", ModuleList: filepath.Join(t.TempDir(), "none")}, vnfproto.StepModules},
		{"nft fails", Config{In: "acc", Out: "core", ModuleList: list, Nft: "false"}, vnfproto.StepRuleset},
	} {
		r, err := Setup(ctx, tt.cfg, nil)
		var se *SetupError
		if !errors.As(err, &se) || se.Step != tt.step {
			t.Errorf("%s: err = %v, want a failure at %v", tt.name, err, tt.step)
		}
		if st := r.Status(); st.Flags&(vnfproto.RouterRole|vnfproto.RouterUp) != vnfproto.RouterRole || st.Failed != tt.step {
			t.Errorf("%s: status %+v", tt.name, st)
		}
		if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "0" {
			t.Errorf("%s: ip_forward = %q after a failed setup", tt.name, b)
		}
	}
}

// wire connects the test's netns to ns with a veth pair: local (laddr)
// here, peer (paddr) there, with a route to dst via gw there.
func wire(t *testing.T, local, laddr string, ns *privtest.NetNS, peer, paddr, dst, gw string) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: local}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s: %v", local, err)
	}
	addrUp(t, local, laddr)
	h, err := netns.GetFromName(ns.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p, err := netlink.LinkByName(peer)
	if err == nil {
		err = netlink.LinkSetNsFd(p, int(h))
	}
	if err != nil {
		t.Fatalf("moving %s: %v", peer, err)
	}
	ns.Do(func() {
		err = addrUpErr(peer, paddr)
		if err == nil {
			_, d, _ := net.ParseCIDR(dst)
			err = netlink.RouteAdd(&netlink.Route{Dst: d, Gw: net.ParseIP(gw)})
		}
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", peer, ns.Name(), err)
	}
}

func addrUp(t *testing.T, name, addr string) {
	t.Helper()
	if err := addrUpErr(name, addr); err != nil {
		t.Fatal(err)
	}
}

func addrUpErr(name, addr string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	a, err := netlink.ParseAddr(addr)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return err
	}
	return netlink.LinkSetUp(l)
}

// listenIn opens a UDP socket on addr inside ns.
func listenIn(t *testing.T, ns *privtest.NetNS, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	ns.Do(func() { c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))) })
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends a datagram from cli to to, where srv answers it; it
// returns the source srv saw and fails unless cli gets the answer.
func exchange(t *testing.T, cli, srv *net.UDPConn, to netip.AddrPort) netip.AddrPort {
	t.Helper()
	buf := make([]byte, 64)
	var from netip.AddrPort
	for try := 0; try < 5; try++ { // the first datagram may wait for ARP
		cli.WriteToUDPAddrPort([]byte("hello"), to)
		srv.SetReadDeadline(time.Now().Add(time.Second))
		n, src, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "hello" {
			continue
		}
		from = src
		srv.WriteToUDPAddrPort([]byte("back"), src)
		cli.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, back, err := cli.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "back" || back != to {
			t.Fatalf("client got %q from %v (%v), want the answer from %v", buf[:n], back, err, to)
		}
		return from
	}
	t.Fatalf("the server never got the client's datagram to %v", to)
	return from
}

func emptyFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "load-order")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
