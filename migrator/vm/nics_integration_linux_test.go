package vm

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// A real guest with two NICs on two bridges brings up eth0 and eth1 with
// their addresses and its vnf answers on both; after an agent restart
// both taps are recovered; Stop leaves neither tap.
func TestIntegrationTwoNICs(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	l, cfg := twoNetworkLauncher(t, imageDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := twoNICSpec("nics")
	spec.MemoryMiB = 256 // the Debian kernel does not boot in 64 MiB
	inst, err := l.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(context.Background())
	rec := inst.Record()
	assertTapOn(t, rec.Tap, "nfh-br")
	assertTapOn(t, rec.Taps[0], "nfh-core")
	waitNICsUp(ctx, t, inst, spec)
	guestAnswers(ctx, t, spec)

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
		t.Fatalf("adopt: %v", err)
	}
	for _, tap := range ad.Taps() {
		if tap.File == nil || tap.Ifindex == 0 {
			t.Errorf("adopted tap %+v not recovered", tap)
		}
	}
	if err := ad.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, spec.Name, rec.PID)
}

// A two-NIC guest migrates to a destination in another network namespace
// (another host): the destination builds the same taps on its own
// bridges, QEMU takes the guest's state for both NICs, and the guest
// answers on both addresses there.
func TestIntegrationTwoNICsMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	img := imageDir(t)
	src, _ := twoNetworkLauncher(t, img)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := twoNICSpec("nics")
	spec.MemoryMiB = 256
	sinst, err := src.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer sinst.Stop(context.Background())
	waitNICsUp(ctx, t, sinst, spec)

	dst, _ := twoNetworkLauncher(t, img) // this goroutine is in the destination's netns from here
	dinst, err := dst.StartIncoming(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer dinst.Stop(context.Background())
	drec := dinst.Record()
	assertTapOn(t, drec.Tap, "nfh-br")
	assertTapOn(t, drec.Taps[0], "nfh-core")

	uri := qmpcmd.UnixURI(filepath.Join(dst.cfg.StateDir, "mig.sock"))
	if err := dinst.Execute(ctx, qmpcmd.MigrateIncoming, uri, nil); err != nil {
		t.Fatalf("migrate-incoming: %v", err)
	}
	if err := sinst.Execute(ctx, qmpcmd.Migrate, uri, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for {
		var mi qmpcmd.MigrateInfo
		if err := sinst.Execute(ctx, qmpcmd.QueryMigrate, nil, &mi); err != nil {
			t.Fatal(err)
		}
		if mi.Status == qmpcmd.MigrationCompleted {
			break
		}
		if mi.Status == qmpcmd.MigrationFailed || ctx.Err() != nil {
			t.Fatalf("migration %s: %s", mi.Status, mi.ErrorDesc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		st, err := dinst.QueryStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st == qmpcmd.RunStatePaused {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("destination status %s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := dinst.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
		t.Fatal(err)
	}
	guestAnswers(ctx, t, spec)

	srec := sinst.Record()
	if err := sinst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	src.inNetns(func() error {
		assertNothingLeft(t, src, spec.Name, srec.PID)
		return nil
	})
	if err := dinst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, dst, spec.Name, drec.PID)
}

// twoNetworkLauncher is a launcher in a fresh netns with the default
// network's bridge nfh-br (198.18.0.1/24 on the host side) and network
// "core"'s nfh-core (198.19.0.1/24), using the system QEMU under TCG.
func twoNetworkLauncher(t *testing.T, imgDir string) (*Launcher, Config) {
	t.Helper()
	inFreshNetns(t, "nfh-br")
	addBridge(t, "nfh-core")
	for br, addr := range map[string]string{"nfh-br": "198.18.0.1/24", "nfh-core": "198.19.0.1/24"} {
		link, _ := netlink.LinkByName(br)
		a, _ := netlink.ParseAddr(addr)
		if err := netlink.AddrAdd(link, a); err != nil {
			t.Fatalf("address on %s: %v", br, err)
		}
	}
	state, err := os.MkdirTemp("", "nfhvm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	cfg := Config{Host: "hostT", StateDir: state, ImageDir: imgDir, Accel: AccelTCG,
		Networks: map[string]string{"core": "nfh-core"}}
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, cfg
}

// waitNICsUp waits for the guest's init to report its last NIC up, and
// fails the test on any error it reported.
func waitNICsUp(ctx context.Context, t *testing.T, inst *Instance, spec api.VMSpec) {
	t.Helper()
	nics := spec.AllNICs()
	want := fmt.Sprintf("nfh-init: eth%d up %s", len(nics)-1, nics[len(nics)-1].Address)
	out, err := waitConsole(ctx, inst, inst.Record().ConsoleLog, want)
	if err != nil {
		t.Fatalf("console never showed %q: %v\n%s", want, err, tail(out, 2000))
	}
	if strings.Contains(out, "nfh-init: ERROR") {
		t.Errorf("the guest's init reports an error:\n%s", tail(out, 2000))
	}
}

// guestAnswers checks that the guest's vnf answers on every NIC's
// address, from the test's netns.
func guestAnswers(ctx context.Context, t *testing.T, spec api.VMSpec) {
	t.Helper()
	for _, n := range spec.AllNICs() {
		p := netip.MustParsePrefix(n.Address)
		qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
		st, err := vnfproto.Query(qctx, netip.AddrPortFrom(p.Addr(), vnfproto.Port))
		qcancel()
		if err != nil {
			t.Errorf("vnf on %s: %v", p.Addr(), err)
		} else {
			t.Logf("vnf answers on %s (uptime %v)", p.Addr(), st.Uptime)
		}
	}
}
