package privtest

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestPrivEnterNetns(t *testing.T) {
	name := EnterNetns(t, "pt")
	f := OpenTap(t, "pt0", true)
	LinkUp(t, "pt0", "")
	if _, err := netlink.LinkByName("pt0"); err != nil {
		t.Fatalf("tap not in the test's netns: %v", err)
	}
	if _, err := netns.GetFromName(name); err != nil {
		t.Fatalf("netns %s not named: %v", name, err)
	}
	f.Close()
}

func TestPrivNetNS(t *testing.T) {
	RequireRoot(t)
	var name string
	t.Run("make", func(t *testing.T) {
		n := NewNetNS(t, "pt")
		name = n.Name()
		var idx int
		var err error
		n.Do(func() { idx, err = AddVeth("pv0", net.HardwareAddr{2, 0, 0, 0, 0, 1}) })
		if err != nil || idx == 0 {
			t.Fatalf("AddVeth: %d, %v", idx, err)
		}
		if _, err := netlink.LinkByName("pv0"); err == nil {
			t.Error("the veth is in the test's own netns")
		}
	})
	if h, err := netns.GetFromName(name); err == nil {
		h.Close()
		t.Errorf("netns %s still there after its test", name)
	}
}
