package dataplane

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// ensureTunnel returns the ifindex of the VXLAN collect_md device name
// ("external": the programs set each frame's remote and VNI), creating it
// with UDP port port if missing, and sets it up.
func ensureTunnel(name string, port int) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return 0, fmt.Errorf("looking up tunnel device %s: %w", name, err)
		}
		vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: name}, FlowBased: true, Port: port}
		if err := netlink.LinkAdd(vx); err != nil {
			return 0, fmt.Errorf("creating vxlan device %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return 0, fmt.Errorf("looking up tunnel device %s: %w", name, err)
		}
	}
	vx, ok := l.(*netlink.Vxlan)
	if !ok {
		return 0, fmt.Errorf("tunnel device %s is a %s, not vxlan", name, l.Type())
	}
	if !vx.FlowBased {
		return 0, fmt.Errorf("tunnel device %s is not a collect_md (external) vxlan device", name)
	}
	if vx.Port != port {
		return 0, fmt.Errorf("tunnel device %s uses UDP port %d, not %d", name, vx.Port, port)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return 0, fmt.Errorf("setting %s up: %w", name, err)
	}
	return l.Attrs().Index, nil
}

// ifindexOf returns the ifindex of the device name.
func ifindexOf(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("looking up %s: %w", name, err)
	}
	return l.Attrs().Index, nil
}
