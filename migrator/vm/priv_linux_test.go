package vm

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// requireRoot skips unless running as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// inFreshNetns moves the test's goroutine, locked to its thread, into a
// new network namespace until the test ends, and creates bridge there.
func inFreshNetns(t *testing.T, bridge string) {
	t.Helper()
	requireRoot(t)
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("restoring netns: %v", err) // thread stays locked and dies
			return
		}
		ns.Close()
		orig.Close()
		runtime.UnlockOSThread()
	})
	lo, _ := netlink.LinkByName("lo")
	netlink.LinkSetUp(lo)
	if bridge != "" {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridge}}
		if err := netlink.LinkAdd(br); err != nil {
			t.Fatalf("adding bridge: %v", err)
		}
		if err := netlink.LinkSetUp(br); err != nil {
			t.Fatal(err)
		}
	}
}

// linkGone reports whether no link named name exists in the test's netns.
func linkGone(name string) bool {
	_, err := netlink.LinkByName(name)
	return err != nil
}
