package dataplane

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// learnAtTap makes the bridge the tap ifindex is a port of forward frames
// for mac to the tap, as if it had just learnt mac there: a dynamic entry,
// which the bridge's own learning moves and ages like any other. A tap that
// is no bridge's port is left alone (false, nil).
//
// Why: the gratuitous ARPs leave through the uplink, past this host's
// bridge. The first one moves the VM's MAC to this host in the switch, but
// this host's bridge still places it on the uplink (learnt while the VM
// ran elsewhere, from its frames and the last move's announcements) until
// a frame from the guest crosses the bridge (QEMU's RARP, the guest's own
// traffic). A frame for the VM arriving in between comes in on the uplink
// and the bridge drops it as addressed to the port it came from, before
// the hold on the tap can keep it: nothing counts it. Only an unfiltered
// bridge (no vlan_filtering) is served; with VLAN filtering the entry
// would need the VM's VLANs.
func learnAtTap(ifindex int, mac net.HardwareAddr) (bool, error) {
	link, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return false, fmt.Errorf("tap %d: %w", ifindex, err)
	}
	master := link.Attrs().MasterIndex
	if master == 0 {
		return false, nil
	}
	br, err := netlink.LinkByIndex(master)
	if err != nil {
		return false, fmt.Errorf("master of %s: %w", link.Attrs().Name, err)
	}
	if br.Type() != "bridge" {
		return false, nil
	}
	err = netlink.NeighSet(&netlink.Neigh{
		LinkIndex:    ifindex,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_REACHABLE, // dynamic: learning and ageing apply
		Flags:        netlink.NTF_MASTER,
		HardwareAddr: mac,
	})
	if err != nil {
		return false, fmt.Errorf("bridge %s: forwarding %s to %s: %w", br.Attrs().Name, mac, link.Attrs().Name, err)
	}
	return true, nil
}
