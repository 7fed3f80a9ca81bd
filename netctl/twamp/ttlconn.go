package twamp

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ttlConn reads datagrams together with the TTL / hop limit they arrived with.
type ttlConn interface {
	readFrom(b []byte) (n int, ttl uint8, src net.Addr, err error)
	writeTo(b []byte, dst net.Addr) error
}

// newTTLConn wraps conn by its local address family. On error the returned
// conn still works but reports TTL 0.
func newTTLConn(conn *net.UDPConn) (ttlConn, error) {
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	if la != nil && la.IP.To4() == nil && len(la.IP) == net.IPv6len && !la.IP.IsUnspecified() {
		p := ipv6.NewPacketConn(conn)
		p.SetHopLimit(255)
		return v6conn{p}, p.SetControlMessage(ipv6.FlagHopLimit, true)
	}
	p := ipv4.NewPacketConn(conn)
	p.SetTTL(255)
	return v4conn{p}, p.SetControlMessage(ipv4.FlagTTL, true)
}

type v4conn struct{ p *ipv4.PacketConn }

func (c v4conn) readFrom(b []byte) (int, uint8, net.Addr, error) {
	n, cm, src, err := c.p.ReadFrom(b)
	var ttl uint8
	if cm != nil {
		ttl = uint8(cm.TTL)
	}
	return n, ttl, src, err
}

func (c v4conn) writeTo(b []byte, dst net.Addr) error {
	_, err := c.p.WriteTo(b, nil, dst)
	return err
}

type v6conn struct{ p *ipv6.PacketConn }

func (c v6conn) readFrom(b []byte) (int, uint8, net.Addr, error) {
	n, cm, src, err := c.p.ReadFrom(b)
	var hl uint8
	if cm != nil {
		hl = uint8(cm.HopLimit)
	}
	return n, hl, src, err
}

func (c v6conn) writeTo(b []byte, dst net.Addr) error {
	_, err := c.p.WriteTo(b, nil, dst)
	return err
}
