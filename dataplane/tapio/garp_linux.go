package tapio

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// SendGARP announces that ip is at mac by sending count gratuitous ARP
// requests out of ifname: the first at once, then after first, 2×first,
// 4×first... It returns how many were sent. The frames are built here rather
// than with arp.Client, which needs an IPv4 address on ifname.
func SendGARP(ctx context.Context, ifname string, mac net.HardwareAddr, ip netip.Addr, count int, first time.Duration) (sent int, err error) {
	return sendGARP(ctx, ifname, mac, ip, count, first, Sleep)
}

// sendGARP is SendGARP with the wait between two frames as a parameter.
func sendGARP(ctx context.Context, ifname string, mac net.HardwareAddr, ip netip.Addr, count int, first time.Duration, wait func(context.Context, time.Duration) error) (sent int, err error) {
	frame, err := garpFrame(mac, ip)
	if err != nil {
		return 0, fmt.Errorf("gratuitous ARP: %w", err)
	}
	if count <= 0 {
		return 0, nil
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return 0, fmt.Errorf("gratuitous ARP: %w", err)
	}
	// Protocol 0: send only.
	conn, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("gratuitous ARP: opening packet socket on %s: %w", ifname, err)
	}
	defer conn.Close()
	dst := &packet.Addr{HardwareAddr: ethernet.Broadcast}
	for d := first; ; d *= 2 {
		if _, err := conn.WriteTo(frame, dst); err != nil {
			return sent, fmt.Errorf("gratuitous ARP on %s: %w", ifname, err)
		}
		sent++
		if sent == count {
			return sent, nil
		}
		if err := wait(ctx, d); err != nil {
			return sent, fmt.Errorf("gratuitous ARP on %s: %w", ifname, err)
		}
	}
}

// garpFrame is a gratuitous ARP request (RFC 5227 announcement): sender and
// target IP ip, sender hardware mac, target hardware zero, from mac to the
// Ethernet broadcast.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("MAC %v is not 6 bytes", mac)
	}
	if !ip.Is4() {
		return nil, fmt.Errorf("%v is not an IPv4 address", ip)
	}
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, make(net.HardwareAddr, 6), ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}
