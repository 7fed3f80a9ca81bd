package vm

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// A real guest with two NICs on two bridges brings up eth0 and eth1 with
// their addresses and its vnf answers on both; after an agent restart
// both taps are recovered; Stop leaves neither tap.
func TestIntegrationTwoNICs(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	img := imageDir(t)
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
	cfg := Config{Host: "hostT", StateDir: state, ImageDir: img, Accel: AccelTCG,
		Networks: map[string]string{"core": "nfh-core"}}
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

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
	want := "nfh-init: eth1 up " + spec.NICs[0].Address
	out, err := waitConsole(ctx, inst, rec.ConsoleLog, want)
	if err != nil {
		t.Fatalf("console never showed %q: %v\n%s", want, err, tail(out, 2000))
	}
	if strings.Contains(out, "nfh-init: ERROR") {
		t.Errorf("the guest's init reports an error:\n%s", tail(out, 2000))
	}
	for _, addr := range []string{spec.Address, spec.NICs[0].Address} {
		p := netip.MustParsePrefix(addr)
		qctx, qcancel := context.WithTimeout(ctx, 20*time.Second)
		st, err := vnfproto.Query(qctx, netip.AddrPortFrom(p.Addr(), vnfproto.Port))
		qcancel()
		if err != nil {
			t.Errorf("vnf on %s: %v", p.Addr(), err)
		} else {
			t.Logf("vnf answers on %s (uptime %v)", p.Addr(), st.Uptime)
		}
	}

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
