package vm

import (
	"context"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// A real two-NIC guest with vnf --router eth0:eth1 is a stateful
// firewall/NAT between the access bridge and the core bridge: a client
// behind the access side reaches a server behind the core side over UDP
// and TCP, the server sees the guest's core address (masquerade), the
// server cannot open a flow towards the client, and the guest's status
// says the router is up, tracks connections and counted the drop. The
// vnf still answers on both of its own addresses.
func TestIntegrationRouterForwards(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	l, _ := twoNetworkLauncher(t, imageDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	spec := twoNICSpec("fw")
	spec.MemoryMiB = 256
	spec.VNFArgs = []string{"--router=eth0:eth1"}
	access, core := netip.MustParsePrefix(spec.Address).Addr(), netip.MustParsePrefix(spec.NICs[0].Address).Addr()
	inst, err := l.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(context.Background())
	waitNICsUp(ctx, t, inst, spec)
	st := waitRouter(ctx, t, inst, access)
	if st.Router.Flags&vnfproto.RouterUp == 0 {
		out, _ := os.ReadFile(inst.Record().ConsoleLog)
		t.Fatalf("router not up: %+v\n%s", st.Router, tail(string(out), 2000))
	}
	guestAnswers(ctx, t, spec)

	client, server := privtest.NewNetNS(t, "nfh-fwc"), privtest.NewNetNS(t, "nfh-fws")
	plug(t, "nfh-br", "fwc0", client, "cli", "198.18.0.50/24", "198.19.0.0/24", access)
	plug(t, "nfh-core", "fws0", server, "srv", "198.19.0.60/24", "198.18.0.0/24", core)
	srvAddr := netip.MustParseAddrPort("198.19.0.60:5000")

	srvUDP, cliUDP := udpIn(t, server, srvAddr), udpIn(t, client, netip.MustParseAddrPort("198.18.0.50:5001"))
	if from := udpThrough(t, cliUDP, srvUDP, srvAddr); from.Addr() != core {
		t.Errorf("server saw the client's datagram from %v, want the guest's core address %v", from, core)
	}
	if from := tcpThrough(ctx, t, client, server, netip.MustParseAddrPort("198.19.0.60:5003")); from.Addr() != core {
		t.Errorf("server saw the client's TCP connection from %v, want %v", from, core)
	}

	// The core side opens a flow of its own towards the client: refused.
	before := waitRouter(ctx, t, inst, access).Router.ForwardDrops
	opener := udpIn(t, server, netip.MustParseAddrPort("198.19.0.60:5002"))
	for range 3 {
		opener.WriteToUDPAddrPort([]byte("unasked"), netip.MustParseAddrPort("198.18.0.50:5001"))
	}
	cliUDP.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, src, err := cliUDP.ReadFromUDPAddrPort(make([]byte, 64)); err == nil {
		t.Errorf("client got %d bytes from %v on a flow the core side opened", n, src)
	}
	r := waitRouter(ctx, t, inst, access).Router
	t.Logf("guest router: flags %#x, %d conntrack entries, %d forward drops (%d before the refused flow)",
		r.Flags, r.ConntrackEntries, r.ForwardDrops, before)
	if r.Flags&vnfproto.HasConntrack == 0 || r.ConntrackEntries == 0 {
		t.Errorf("guest tracks no connection after the client's flows: %+v", r)
	}
	if r.Flags&vnfproto.HasForwardDrops == 0 || r.ForwardDrops <= before {
		t.Errorf("forward drops %d, want more than %d: %+v", r.ForwardDrops, before, r)
	}
}

// waitRouter queries the vnf at addr until its router is set up (up, or
// failed at a step) and returns that status.
func waitRouter(ctx context.Context, t *testing.T, inst *Instance, addr netip.Addr) vnfproto.Status {
	t.Helper()
	for {
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := vnfproto.Query(qctx, netip.AddrPortFrom(addr, vnfproto.Port))
		qcancel()
		if err == nil && st.Router.Flags&vnfproto.RouterRole == 0 {
			t.Fatalf("the vnf is no router: %+v", st)
		}
		if err == nil && (st.Router.Flags&vnfproto.RouterUp != 0 || st.Router.Failed != vnfproto.StepNone) {
			return st
		}
		if ctx.Err() != nil {
			out, _ := os.ReadFile(inst.Record().ConsoleLog)
			t.Fatalf("router never set up (last: %+v, %v)\n%s", st.Router, err, tail(string(out), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// plug puts a veth between bridge (local end) and ns (peer, address
// addr) with a route in ns to dst via gw.
func plug(t *testing.T, bridge, local string, ns *privtest.NetNS, peer, addr, dst string, gw netip.Addr) {
	t.Helper()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: local, MasterIndex: br.Attrs().Index}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s: %v", local, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
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
		t.Fatalf("moving %s to %s: %v", peer, ns.Name(), err)
	}
	ns.Do(func() {
		var l netlink.Link
		var a *netlink.Addr
		if l, err = netlink.LinkByName(peer); err != nil {
			return
		}
		if a, err = netlink.ParseAddr(addr); err != nil {
			return
		}
		if err = netlink.AddrAdd(l, a); err != nil {
			return
		}
		if err = netlink.LinkSetUp(l); err != nil {
			return
		}
		_, d, _ := net.ParseCIDR(dst)
		err = netlink.RouteAdd(&netlink.Route{Dst: d, Gw: gw.AsSlice()})
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", peer, ns.Name(), err)
	}
}

// udpIn opens a UDP socket on addr inside ns.
func udpIn(t *testing.T, ns *privtest.NetNS, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	ns.Do(func() { c, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr)) })
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// udpThrough sends a datagram from cli to the server at to, which answers
// it on srv; it returns the source the server saw and fails unless the
// answer comes back to cli from to.
func udpThrough(t *testing.T, cli, srv *net.UDPConn, to netip.AddrPort) netip.AddrPort {
	t.Helper()
	buf := make([]byte, 64)
	for range 10 { // the first datagrams may wait for ARP on both sides
		cli.WriteToUDPAddrPort([]byte("hello"), to)
		srv.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := srv.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "hello" {
			continue
		}
		srv.WriteToUDPAddrPort([]byte("back"), from)
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, back, err := cli.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "back" || back != to {
			t.Fatalf("client got %q from %v (%v), want the answer from %v", buf[:n], back, err, to)
		}
		return from
	}
	t.Fatalf("no datagram from the client reached the server at %v through the guest", to)
	return netip.AddrPort{}
}

// tcpThrough connects from the client netns to a listener on addr in the
// server netns, exchanges a line each way and returns the peer address
// the server saw.
func tcpThrough(ctx context.Context, t *testing.T, client, server *privtest.NetNS, addr netip.AddrPort) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	var err error
	server.Do(func() { ln, err = net.Listen("tcp4", addr.String()) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan netip.AddrPort, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- netip.AddrPort{}
			return
		}
		defer c.Close()
		buf := make([]byte, 16)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.Read(buf); err == nil {
			c.Write(buf[:n])
		}
		accepted <- c.RemoteAddr().(*net.TCPAddr).AddrPort()
	}()
	var c net.Conn
	client.Do(func() {
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		c, err = (&net.Dialer{}).DialContext(dctx, "tcp4", addr.String())
	})
	if err != nil {
		t.Fatalf("TCP from the client to %v through the guest: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 16)
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("TCP echo through the guest: %q, %v", buf[:n], err)
	}
	from := <-accepted
	if !from.IsValid() {
		t.Fatal("the server accepted nothing")
	}
	return from
}
