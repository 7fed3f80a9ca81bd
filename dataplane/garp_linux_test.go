package dataplane

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
)

func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 1, 2, 3}
	ip := netip.MustParseAddr("198.19.77.2")
	b, err := garpFrame(mac, ip)
	if err != nil {
		t.Fatal(err)
	}
	checkGARP(t, b, mac, ip)
	if _, err := garpFrame(mac[:5], ip); err == nil {
		t.Error("5-byte MAC accepted")
	}
	if _, err := garpFrame(mac, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("IPv6 address accepted")
	}
}

func checkGARP(t *testing.T, b []byte, mac net.HardwareAddr, ip netip.Addr) {
	t.Helper()
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Source, mac) || !bytes.Equal(f.Destination, ethernet.Broadcast) || f.EtherType != ethernet.EtherTypeARP {
		t.Fatalf("ethernet %v -> %v type %v; want %v -> broadcast, ARP", f.Source, f.Destination, f.EtherType, mac)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	if p.Operation != arp.OperationRequest || !bytes.Equal(p.SenderHardwareAddr, mac) || p.SenderIP != ip || p.TargetIP != ip {
		t.Fatalf("ARP %v sender %v/%v target %v/%v; want a request with sender %v/%v, target IP the same", p.Operation, p.SenderHardwareAddr, p.SenderIP, p.TargetHardwareAddr, p.TargetIP, mac, ip)
	}
}

// A veth pair: GARPs sent out of one end with the VM's MAC (not the veth's)
// arrive at the other, count of them, at growing intervals.
func TestPrivSendGARP(t *testing.T) {
	ioEnterNetns(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "dptga"}, PeerName: "dptgb"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dptga", "dptgb"} {
		l, err := netlink.LinkByName(n)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	peer, err := net.InterfaceByName("dptgb")
	if err != nil {
		t.Fatal(err)
	}
	capt, err := packet.Listen(peer, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer capt.Close()

	mac := net.HardwareAddr{0x52, 0x54, 0, 0xd7, 0x20, 0x02}
	ip := netip.MustParseAddr("198.19.77.2")
	const count, first = 4, 20 * time.Millisecond
	// The capture reads in the background (its socket is bound already);
	// SendGARP runs on the test's thread, in the netns.
	type capture struct {
		frame []byte
		at    time.Time
	}
	got := make(chan capture, 16)
	go func() {
		defer close(got)
		buf := make([]byte, 2048)
		capt.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := capt.ReadFrom(buf)
			if err != nil {
				return
			}
			got <- capture{append([]byte(nil), buf[:n]...), time.Now()}
		}
	}()
	sent, err := SendGARP(context.Background(), "dptga", mac, ip, count, first)
	if err != nil || sent != count {
		t.Fatalf("SendGARP = %d, %v; want %d", sent, err, count)
	}
	var caps []capture
	for len(caps) < count {
		c, ok := <-got
		if !ok {
			break
		}
		checkGARP(t, c.frame, mac, ip)
		caps = append(caps, c)
	}
	capt.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for c := range got {
		t.Errorf("unexpected frame after %d GARPs: % x", count, c.frame)
	}
	if len(caps) != count {
		t.Fatalf("captured %d GARPs, want %d", len(caps), count)
	}
	// Intervals double: checked as lower bounds (sleeps are never shorter),
	// with half of first as slack for the capture's own scheduling.
	for i := 1; i < len(caps); i++ {
		if gap, min := caps[i].at.Sub(caps[i-1].at), first<<(i-1)-first/2; gap < min {
			t.Errorf("gap %d: %v, want >= %v", i, gap, min)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sent, err := SendGARP(ctx, "dptga", mac, ip, 3, time.Hour); sent != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %d, %v; want 1 sent then context.Canceled", sent, err)
	}
	if sent, err := SendGARP(context.Background(), "dptga", mac, ip, 0, first); sent != 0 || err != nil {
		t.Errorf("count 0: %d, %v", sent, err)
	}
	if _, err := SendGARP(context.Background(), "dptnone", mac, ip, 1, first); err == nil {
		t.Error("missing interface accepted")
	}
}
