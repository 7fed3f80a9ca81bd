package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"
)

// SetTunnelPeers replaces the hosts tunnel_ingress takes frames from (the
// outer source IPv4 of a VXLAN frame) with addrs: the underlay addresses of
// the hosts that may migrate a VM here. A frame from any other host, or with
// another VNI than VNI, is dropped and counted (reason "tunnel_refused");
// with no peers every tunnelled frame is. IPv4-mapped IPv6 addresses count
// as IPv4; any other IPv6 address (the tunnel's underlay is IPv4 only) fails
// the call and changes nothing. The new peers are added before the old ones
// go, so a host in both sets is never refused meanwhile.
func (d *Dataplane) SetTunnelPeers(addrs []netip.Addr) error {
	d.peersMu.Lock()
	defer d.peersMu.Unlock()
	if err := d.maps.setTunnelPeers(addrs); err != nil {
		return err
	}
	d.log.Debug("tunnel peers set", "peers", addrs)
	return nil
}

// SetTunnelPeers is Dataplane.SetTunnelPeers (handoff.TunnelPeers).
func (h *Handoff) SetTunnelPeers(addrs []netip.Addr) error { return h.d.SetTunnelPeers(addrs) }

// setTunnelPeers makes tunnel_peers hold exactly addrs.
func (m *bpfMaps) setTunnelPeers(addrs []netip.Addr) error {
	want := make(map[uint32]bool, len(addrs))
	for _, a := range addrs {
		if a = a.Unmap(); !a.Is4() {
			return fmt.Errorf("tunnel peer %s: not an IPv4 address (the tunnel's underlay is IPv4 only)", a)
		}
		want[hostOrder(a)] = true
	}
	if n := m.tunnelPeers.MaxEntries(); len(want) > int(n) {
		return fmt.Errorf("%d tunnel peers, at most %d", len(want), n)
	}
	for k := range want {
		if err := m.tunnelPeers.Put(k, uint8(1)); err != nil {
			return fmt.Errorf("adding tunnel peer %s: %w", addrOf(k), err)
		}
	}
	have, err := m.tunnelPeerKeys()
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range have {
		if !want[k] {
			errs = append(errs, del(m.tunnelPeers, k))
		}
	}
	return errors.Join(errs...)
}

// tunnelPeerKeys are the keys of tunnel_peers (host byte order IPv4).
func (m *bpfMaps) tunnelPeerKeys() ([]uint32, error) {
	var keys []uint32
	var k uint32
	var v uint8
	it := m.tunnelPeers.Iterate()
	for it.Next(&k, &v) {
		keys = append(keys, k)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading tunnel peers: %w", err)
	}
	return keys, nil
}

// tunnelPeerAddrs are the addresses in tunnel_peers, sorted.
func (m *bpfMaps) tunnelPeerAddrs() ([]netip.Addr, error) {
	keys, err := m.tunnelPeerKeys()
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, 0, len(keys))
	for _, k := range keys {
		addrs = append(addrs, addrOf(k))
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return addrs, nil
}

// tunnelDropCounts sums tunnel_drops (frames tunnel_ingress dropped that
// were for no VM) over the CPUs.
func (m *bpfMaps) tunnelDropCounts() (tunnelCounters, error) {
	var per []tunnelCounters
	var sum tunnelCounters
	if err := m.tunnelDrops.Lookup(uint32(0), &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return sum, nil
		}
		return sum, fmt.Errorf("reading tunnel drops: %w", err)
	}
	for _, c := range per {
		sum.Refused += c.Refused
		sum.NoVm += c.NoVm
	}
	return sum, nil
}

// addrOf is the IPv4 address of a host byte order u32 (hostOrder's inverse).
func addrOf(k uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)})
}
