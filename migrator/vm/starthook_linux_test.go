package vm

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

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
	if seen.Name != TapName("vm1") || seen.Ifindex == 0 || seen.File == nil {
		t.Fatalf("hook saw %+v", seen)
	}
	if got := inst.Tap(); got != seen {
		t.Errorf("instance tap %+v, hook saw %+v", got, seen)
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
	if got := ad.Tap(); got.Name != seen.Name || got.Ifindex != seen.Ifindex || got.File == nil {
		t.Errorf("adopted tap %+v, want %s index %d with a file", got, seen.Name, seen.Ifindex)
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
