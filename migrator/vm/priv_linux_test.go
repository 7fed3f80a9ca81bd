package vm

import (
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// inFreshNetns moves the test's goroutine, locked to its thread, into a
// new network namespace until the test ends, and creates bridge there.
func inFreshNetns(t *testing.T, bridge string) {
	t.Helper()
	privtest.EnterNetns(t, "nfh-vm")
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
