package privtest

import (
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// OpenTap creates the tap name (IFF_TAP|IFF_NO_PI, not persistent: it goes
// with its descriptor, which the test's cleanup closes) in the calling
// thread's network namespace and returns the descriptor; nonblock opens it
// as QEMU does (poller-backed: deadlines work).
func OpenTap(tb testing.TB, name string, nonblock bool) *os.File {
	tb.Helper()
	flags := unix.O_RDWR | unix.O_CLOEXEC
	if nonblock {
		flags |= unix.O_NONBLOCK
	}
	fd, err := unix.Open("/dev/net/tun", flags, 0)
	if err != nil {
		tb.Fatal(err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		tb.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		tb.Fatalf("TUNSETIFF %s: %v", name, err)
	}
	f := os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
	tb.Cleanup(func() { f.Close() })
	return f
}

// LinkUp sets the device name up, enslaved to master first unless master
// is "".
func LinkUp(tb testing.TB, name, master string) {
	tb.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		tb.Fatal(err)
	}
	if master != "" {
		br, err := netlink.LinkByName(master)
		if err != nil {
			tb.Fatal(err)
		}
		if err := netlink.LinkSetMaster(l, br); err != nil {
			tb.Fatalf("enslaving %s to %s: %v", name, master, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		tb.Fatalf("setting %s up: %v", name, err)
	}
}

// AddVeth creates the veth pair name/name+"p" with MAC mac on name (nil:
// the kernel's), sets name up and returns its ifindex. It takes no tb, so
// that it can run on a NetNS's thread; the pair goes with its namespace.
func AddVeth(name string, mac net.HardwareAddr) (int, error) {
	la := netlink.NewLinkAttrs()
	la.Name = name
	la.HardwareAddr = mac
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: name + "p"}); err != nil {
		return 0, fmt.Errorf("adding veth %s: %w", name, err)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return 0, fmt.Errorf("setting %s up: %w", name, err)
	}
	return l.Attrs().Index, nil
}
