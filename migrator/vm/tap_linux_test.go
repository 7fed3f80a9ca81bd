package vm

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestPrivTap(t *testing.T) {
	inFreshNetns(t, "nfh-br")
	name := TapName("vm1")
	f, _, err := createTap(name, "nfh-br")
	if err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	br, _ := netlink.LinkByName("nfh-br")
	if link.Type() != "tuntap" || link.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("tap %s: type %s, master %d; want tuntap enslaved to %d", name, link.Type(), link.Attrs().MasterIndex, br.Attrs().Index)
	}
	if link.Attrs().Flags&0x1 == 0 { // net.FlagUp
		t.Errorf("tap %s is not up", name)
	}
	if tt, ok := link.(*netlink.Tuntap); ok && tt.Mode != netlink.TUNTAP_MODE_TAP {
		t.Errorf("mode %v, want tap", tt.Mode)
	}
	if _, _, err := createTap(name, "nfh-br"); !errors.Is(err, ErrTapExists) {
		t.Errorf("second create: %v, want ErrTapExists", err)
	}
	// Not persistent: the device goes with its last descriptor.
	f.Close()
	if !linkGone(name) {
		t.Errorf("tap %s still there after its descriptor closed", name)
	}
	if err := deleteTap(name); err != nil {
		t.Errorf("deleting a missing tap: %v", err)
	}

	// Explicit delete while the descriptor is open; and idempotence.
	f, _, err = createTap(name, "nfh-br")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := deleteTap(name); err != nil || !linkGone(name) {
		t.Errorf("delete: %v, gone %v", err, linkGone(name))
	}
	if err := deleteTap(name); err != nil {
		t.Errorf("second delete: %v", err)
	}

	if _, _, err := createTap(TapName("vm2"), "nfh-nobr"); err == nil || !strings.Contains(err.Error(), "nfh-nobr") {
		t.Errorf("missing bridge: %v", err)
	}
	if err := deleteTap("nfh-br"); err == nil || !linkGone(TapName("vm2")) {
		t.Errorf("deleteTap on a bridge: %v (must refuse); leftover tap: %v", err, !linkGone(TapName("vm2")))
	}
}

// The launcher creates taps in its own netns whichever thread calls it.
func TestPrivTapFromOtherGoroutine(t *testing.T) {
	inFreshNetns(t, "nfh-br")
	l, err := NewLauncher(Config{StateDir: t.TempDir(), ImageDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	name := TapName("vm3")
	var wg sync.WaitGroup
	var cerr error
	wg.Go(func() {
		cerr = l.inNetns(func() error {
			f, _, err := createTap(name, "nfh-br")
			if err == nil {
				// keep it: closing would remove it
				t.Cleanup(func() { f.Close() })
			}
			return err
		})
	})
	wg.Wait()
	if cerr != nil {
		t.Fatal(cerr)
	}
	if linkGone(name) {
		t.Fatalf("tap %s not in the launcher's netns", name)
	}
	wg.Go(func() { cerr = l.inNetns(func() error { return deleteTap(name) }) })
	wg.Wait()
	if cerr != nil || !linkGone(name) {
		t.Fatalf("delete from another goroutine: %v", cerr)
	}
}

// CheckBridges names every configured bridge that is missing or not a
// bridge, on one line.
func TestPrivCheckBridges(t *testing.T) {
	inFreshNetns(t, "nfh-br")
	addBridge(t, "nfh-core")
	l, err := NewLauncher(Config{StateDir: t.TempDir(), ImageDir: t.TempDir(),
		Networks: map[string]string{"core": "nfh-core", "dmz": "nfh-dmz", "lo": "lo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = l.CheckBridges()
	if err == nil || !strings.Contains(err.Error(), "bridge nfh-dmz: ") || !strings.Contains(err.Error(), "bridge lo: is a device") ||
		strings.Contains(err.Error(), "nfh-core") || strings.Contains(err.Error(), "nfh-br") || strings.Contains(err.Error(), "\n") {
		t.Errorf("CheckBridges: %v", err)
	}
}
