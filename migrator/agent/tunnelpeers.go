package agent

import (
	"net/netip"
	"slices"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// tunnelPeers is what the agent last gave the hand-off's tunnel.
type tunnelPeers struct {
	set   bool
	addrs []netip.Addr
}

// refreshTunnelPeers gives the hand-off's tunnel (a handoff.TunnelPeers)
// the IPv4 addresses of the hosts in the peers file: the tunnel takes
// stragglers from those hosts only. The agent calls it at start and again
// before each incoming migration holds its VM, so an edited peers file
// takes effect for the next migration. A file that cannot be read keeps
// the previous set; without a peers file (no migrations) the set is empty.
// IPv6 peers are left out: the tunnel's underlay is IPv4 only (their
// stragglers are not forwarded, see handoff.Handoff.Begin).
func (a *Agent) refreshTunnelPeers() {
	tp, ok := a.cfg.Handoff.(handoff.TunnelPeers)
	if !ok {
		return
	}
	a.peersMu.Lock()
	defer a.peersMu.Unlock()
	var v4, v6 []netip.Addr
	if a.cfg.Peers != "" {
		all, err := transport.PeerAddrs(a.cfg.Peers)
		if err != nil {
			a.log.Warn("tunnel peers unchanged: cannot read the peers file", "err", err, "peers", a.tunnelPeers.addrs)
			return
		}
		for _, addr := range all {
			if addr.Is4() {
				v4 = append(v4, addr)
			} else {
				v6 = append(v6, addr)
			}
		}
	}
	if err := tp.SetTunnelPeers(v4); err != nil {
		a.log.Error("setting the tunnel peers", "err", err, "peers", a.tunnelPeers.addrs)
		return
	}
	if a.tunnelPeers.set && slices.Equal(a.tunnelPeers.addrs, v4) {
		return
	}
	a.tunnelPeers = tunnelPeers{set: true, addrs: v4}
	if len(v6) > 0 {
		a.log.Warn("IPv6 peers left out of the tunnel peers (IPv4 underlay only)", "ipv6", v6)
	}
	a.log.Info("tunnel peers", "peers", v4, "file", a.cfg.Peers)
}
