package vm

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// ErrTapExists is returned by Start when the VM's tap device already exists
// (often: the guest is still running).
var ErrTapExists = errors.New("tap device already exists")

// tapQueueLen is the tap's queue (txqueuelen) towards QEMU, in frames. The
// tun default, 500, is half a second at 1000 pps: a QEMU whose main loop
// does not run for that long (seen with four migrations at once on two
// cores) made the tap drop test packets before the guest saw them. A
// longer queue delays them instead, as a NIC's ring would.
const tapQueueLen = 4096

// createTap creates tap name (single queue, no packet info, exclusive, not
// persistent), enslaves it to bridge, sets it up, and returns its open file
// and interface index. The device lives as long as a descriptor of that
// file does.
func createTap(name, bridge string) (*os.File, int, error) {
	br, err := bridgeLink(bridge)
	if err != nil {
		return nil, 0, err
	}
	if _, err := netlink.LinkByName(name); err == nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrTapExists, name)
	}
	tap := &netlink.Tuntap{
		LinkAttrs:  netlink.LinkAttrs{Name: name, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU},
		Mode:       netlink.TUNTAP_MODE_TAP,
		Flags:      netlink.TUNTAP_NO_PI | netlink.TUNTAP_TUN_EXCL,
		Queues:     1,
		NonPersist: true,
	}
	if err := netlink.LinkAdd(tap); err != nil {
		if _, lerr := netlink.LinkByName(name); lerr == nil {
			return nil, 0, fmt.Errorf("%w: %s", ErrTapExists, name)
		}
		return nil, 0, fmt.Errorf("creating tap %s: %w", name, err)
	}
	f := tap.Fds[0]
	fail := func(err error) (*os.File, int, error) {
		f.Close() // not persistent: closing the last descriptor removes it
		deleteTap(name)
		return nil, 0, err
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fail(fmt.Errorf("tap %s: %w", name, err))
	}
	if link.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMasterByIndex(link, br.Attrs().Index); err != nil {
			return fail(fmt.Errorf("enslaving %s to %s: %w", name, bridge, err))
		}
	}
	if err := netlink.LinkSetTxQLen(link, tapQueueLen); err != nil {
		return fail(fmt.Errorf("setting %s's queue length: %w", name, err))
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fail(fmt.Errorf("setting %s up: %w", name, err))
	}
	return f, link.Attrs().Index, nil
}

// bridgeLink looks up bridge and checks that it is one.
func bridgeLink(bridge string) (netlink.Link, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("bridge %s: is a %s, not a bridge", bridge, br.Type())
	}
	return br, nil
}

// CheckBridges reports every bridge of the launcher's networks (the
// default one and Config.Networks') that is missing or not a bridge. A
// guest whose NIC needs one fails to start, with the same error.
func (l *Launcher) CheckBridges() error {
	brs := []string{l.cfg.Bridge}
	for _, name := range l.Networks() {
		brs = append(brs, l.cfg.Networks[name])
	}
	return l.inNetns(func() error {
		var msgs []string // one line for logs, not errors.Join's lines
		for _, br := range brs {
			if _, err := bridgeLink(br); err != nil {
				msgs = append(msgs, err.Error())
			}
		}
		if len(msgs) > 0 {
			return errors.New(strings.Join(msgs, "; "))
		}
		return nil
	})
}

// createTaps creates a tap per NIC of the VM named vm, NIC i's on
// bridges[i], in NIC order. On error none of them is left.
func (l *Launcher) createTaps(vm string, bridges []string) ([]handoff.Tap, error) {
	var taps []handoff.Tap
	err := l.inNetns(func() error {
		for i, br := range bridges {
			name := NICTapName(vm, i)
			f, ifindex, err := createTap(name, br)
			if err != nil {
				return err
			}
			taps = append(taps, handoff.Tap{NIC: i, Name: name, Ifindex: ifindex, File: f})
		}
		return nil
	})
	if err != nil {
		l.removeTaps(taps)
		return nil, err
	}
	for _, t := range taps {
		setNonblock(t.File) // netlink's Fd() made it blocking; the open file is shared with QEMU
	}
	return taps, nil
}

// removeTaps closes our descriptors of taps and deletes the devices.
func (l *Launcher) removeTaps(taps []handoff.Tap) {
	closeTaps(taps)
	names := make([]string, len(taps))
	for i, t := range taps {
		names[i] = t.Name
	}
	l.deleteTaps(names)
}

// tapIfindex is the interface index of tap name (0 if it has none).
func tapIfindex(name string) (int, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("tap %s: %w", name, err)
	}
	return link.Attrs().Index, nil
}

// deleteTap removes tap name; a missing device is not an error.
func deleteTap(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("looking up tap %s: %w", name, err)
	}
	if link.Type() != "tuntap" {
		return fmt.Errorf("refusing to delete %s: a %s, not a tap", name, link.Type())
	}
	if err := netlink.LinkDel(link); err != nil {
		if _, err2 := netlink.LinkByName(name); err2 != nil {
			return nil // raced with the kernel removing it
		}
		return fmt.Errorf("deleting tap %s: %w", name, err)
	}
	return nil
}
