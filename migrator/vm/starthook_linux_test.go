package vm

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/vishvananda/netlink"
)

// BeforeQEMU runs with the tap up and QEMU not started; its error fails
// the start and leaves nothing behind; the instance and an adopting
// launcher report the same tap.
func TestPrivStartHook(t *testing.T) {
	l, cfg := fakeLauncher(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var seen handoff.Tap
	hook := func(ctx context.Context, tap handoff.Tap) error {
		seen = tap
		link, err := netlink.LinkByName(tap.Name)
		if err != nil {
			t.Errorf("hook: tap %s missing: %v", tap.Name, err)
		} else if link.Attrs().Index != tap.Ifindex {
			t.Errorf("hook: ifindex %d, link has %d", tap.Ifindex, link.Attrs().Index)
		}
		if _, err := os.Stat(vmPaths(cfg.StateDir, "vm1").QMP); err == nil {
			t.Error("hook: qemu already started")
		}
		return nil
	}
	inst, err := l.StartWith(ctx, testSpec("vm1"), StartOptions{BeforeQEMU: hook})
	if err != nil {
		t.Fatal(err)
	}
	if seen.Name != TapName("vm1") || seen.NIC != 0 || seen.Ifindex == 0 || seen.File == nil {
		t.Fatalf("hook saw %+v", seen)
	}
	if got := inst.Taps(); len(got) != 1 || got[0] != seen {
		t.Errorf("instance taps %+v, hook saw %+v", got, seen)
	}
	rec := inst.Record()
	if err := inst.Detach(); err != nil {
		t.Fatal(err)
	}
	l2, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ad, err := l2.Adopt(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := ad.Taps(); len(got) != 1 || got[0].Name != seen.Name || got[0].Ifindex != seen.Ifindex || got[0].File == nil {
		t.Errorf("adopted taps %+v, want %s index %d with a file", got, seen.Name, seen.Ifindex)
	}
	if err := ad.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, "vm1", rec.PID)

	errHook := errors.New("no dataplane today")
	_, err = l.StartWith(ctx, testSpec("vm2"), StartOptions{BeforeQEMU: func(context.Context, handoff.Tap) error { return errHook }})
	if !errors.Is(err, errHook) {
		t.Errorf("failing hook: %v, want its error", err)
	}
	assertNothingLeft(t, l, "vm2", 0)
}

// twoNICSpec is testSpec with a second NIC on network "core".
func twoNICSpec(name string) api.VMSpec {
	s := testSpec(name)
	s.NICs = []api.NIC{{MAC: "52:54:00:00:01:10", Address: "198.19.0.110/24", Network: "core"}}
	return s
}

// addBridge creates bridge name, up, in the test's netns.
func addBridge(t *testing.T, name string) *netlink.Bridge {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatalf("adding bridge %s: %v", name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	return br
}

// assertTapOn checks that tap exists and is enslaved to bridge.
func assertTapOn(t *testing.T, tap, bridge string) {
	t.Helper()
	link, err := netlink.LinkByName(tap)
	if err != nil {
		t.Errorf("tap %s: %v", tap, err)
		return
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil || link.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("tap %s: master index %d, want bridge %s (%v)", tap, link.Attrs().MasterIndex, bridge, err)
	}
}

// A guest with two NICs gets a tap per NIC, each on its network's bridge
// and handed to QEMU as fd 3 and 4 (the fake checks both are taps); the
// hook sees each; adoption recovers both; Stop and Cleanup leave neither.
// A failing hook on the second tap removes the first too.
func TestPrivTwoNICs(t *testing.T) {
	l, cfg := fakeLauncher(t, "ok")
	addBridge(t, "nfh-core")
	cfg.Networks = map[string]string{"core": "nfh-core"}
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var seen []handoff.Tap
	hook := func(_ context.Context, tap handoff.Tap) error {
		seen = append(seen, tap)
		return nil
	}
	inst, err := l.StartWith(ctx, twoNICSpec("vm1"), StartOptions{BeforeQEMU: hook})
	if err != nil {
		t.Fatal(err)
	}
	rec := inst.Record()
	want := []string{TapName("vm1"), NICTapName("vm1", 1)}
	if rec.Tap != want[0] || !slices.Equal(rec.Taps, want[1:]) {
		t.Errorf("record taps %s %q, want %q", rec.Tap, rec.Taps, want)
	}
	if len(seen) != 2 || seen[0].NIC != 0 || seen[1].NIC != 1 || seen[0].Name != want[0] || seen[1].Name != want[1] ||
		seen[1].File == nil || seen[1].Ifindex == 0 {
		t.Fatalf("hook saw %+v", seen)
	}
	if got := inst.Taps(); !slices.Equal(got, seen) {
		t.Errorf("instance taps %+v, hook saw %+v", got, seen)
	}
	assertTapOn(t, want[0], "nfh-br")
	assertTapOn(t, want[1], "nfh-core")

	if err := inst.Detach(); err != nil {
		t.Fatal(err)
	}
	l2, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ad, err := l2.Adopt(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	got := ad.Taps()
	if len(got) != 2 {
		t.Fatalf("adopted taps %+v", got)
	}
	for i, tap := range got {
		if tap.NIC != i || tap.Name != seen[i].Name || tap.Ifindex != seen[i].Ifindex || tap.File == nil {
			t.Errorf("adopted tap %d: %+v, want %s index %d with a file", i, tap, seen[i].Name, seen[i].Ifindex)
		}
	}
	if arec := ad.Record(); !slices.Equal(arec.AllTaps(), want) {
		t.Errorf("adopted record's taps %q, want %q", arec.AllTaps(), want)
	}
	if err := ad.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, "vm1", rec.PID)

	// Cleanup of a guest left running removes both taps.
	inst, err = l.Start(ctx, twoNICSpec("vm2"))
	if err != nil {
		t.Fatal(err)
	}
	rec = inst.Record()
	inst.Detach()
	if err := l.Cleanup(ctx, rec); err != nil {
		t.Fatal(err)
	}
	<-inst.Done()
	assertNothingLeft(t, l, "vm2", rec.PID)

	errHook := errors.New("no dataplane on core")
	_, err = l.StartWith(ctx, twoNICSpec("vm3"), StartOptions{BeforeQEMU: func(_ context.Context, tap handoff.Tap) error {
		if tap.NIC == 1 {
			return errHook
		}
		return nil
	}})
	if !errors.Is(err, errHook) {
		t.Errorf("hook failing on the second tap: %v, want its error", err)
	}
	assertNothingLeft(t, l, "vm3", 0)

	// A network the host lacks is an invalid spec, and nothing is made.
	spec := twoNICSpec("vm4")
	spec.NICs[0].Network = "dmz"
	if _, err := l.Start(ctx, spec); !errors.Is(err, api.ErrInvalidSpec) || !strings.Contains(err.Error(), `"dmz"`) {
		t.Errorf("unknown network: %v, want api.ErrInvalidSpec naming it", err)
	}
	assertNothingLeft(t, l, "vm4", 0)
}
