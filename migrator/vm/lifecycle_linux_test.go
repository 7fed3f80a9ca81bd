package vm

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func testSpec(name string) api.VMSpec {
	return api.VMSpec{Name: name, MemoryMiB: 64, VCPUs: 1, Image: "vnf",
		MAC: "52:54:00:00:00:10", Address: "198.18.0.110/24", Gateway: "198.18.0.1"}
}

// fakeLauncher is a launcher in a fresh netns whose QEMU is the fake in mode.
func fakeLauncher(t *testing.T, mode string) (*Launcher, Config) {
	t.Helper()
	inFreshNetns(t, "nfh-br")
	img := t.TempDir()
	writeImage(t, img, "vnf")
	state, err := os.MkdirTemp("", "nfhvm-") // short: QMP socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	cfg := Config{Host: "hostT", StateDir: state, ImageDir: img, Accel: AccelTCG}
	useFakeQEMU(t, &cfg, mode)
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, cfg
}

func assertNothingLeft(t *testing.T, l *Launcher, name string, pid int) {
	t.Helper()
	for i := range api.MaxNICs {
		if tap := NICTapName(name, i); !linkGone(tap) {
			t.Errorf("tap %s left behind", tap)
		}
	}
	if _, err := os.Stat(filepath.Join(l.cfg.StateDir, "vms", name)); !os.IsNotExist(err) {
		t.Errorf("vm dir left behind: %v", err)
	}
	if pid > 0 {
		if alive, _ := isOurQEMU(pid, name, vmPaths(l.cfg.StateDir, name).QMP); alive {
			t.Errorf("qemu pid %d still running", pid)
		}
	}
}

func TestPrivLifecycleFakeQEMU(t *testing.T) {
	l, cfg := fakeLauncher(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := l.Start(ctx, testSpec("vm1"))
	if err != nil {
		t.Fatal(err)
	}
	rec := inst.Record()
	if rec.State != api.StateRunning || rec.PID <= 0 || rec.Tap != TapName("vm1") || rec.Accel != AccelTCG ||
		rec.Host != "hostT" || rec.Started.IsZero() || rec.Adopted ||
		rec.QMPSocket != filepath.Join(cfg.StateDir, "vms/vm1/qmp.sock") ||
		rec.ConsoleLog != filepath.Join(cfg.StateDir, "vms/vm1/console.log") {
		t.Errorf("record %+v", rec)
	}
	link, err := netlink.LinkByName(rec.Tap)
	if err != nil || link.Attrs().MasterIndex == 0 {
		t.Fatalf("tap: %v", err)
	}
	if st, err := inst.QueryStatus(ctx); err != nil || st != "running" {
		t.Fatalf("status %q, %v", st, err)
	}
	if _, err := l.Start(ctx, testSpec("vm1")); !errors.Is(err, ErrTapExists) || !errors.Is(err, api.ErrExists) {
		t.Errorf("second start: %v, want ErrTapExists/api.ErrExists", err)
	}

	// Agent restart: detach, adopt with a new launcher.
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
	arec := ad.Record()
	if !arec.Adopted || arec.PID != rec.PID || arec.State != api.StateRunning {
		t.Errorf("adopted record %+v", arec)
	}
	if ad.Taps()[0].File == nil {
		t.Error("tap descriptor not recovered")
	}
	if st, err := ad.QueryStatus(ctx); err != nil || st != "running" {
		t.Fatalf("adopted status %q, %v", st, err)
	}
	if err := ad.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	<-ad.Done()
	if got := ad.Record().State; got != api.StateStopped {
		t.Errorf("state after stop %q", got)
	}
	if err := ad.Stop(ctx); err != nil {
		t.Errorf("second stop: %v", err)
	}
	select {
	case <-inst.Done():
	case <-time.After(5 * time.Second):
		t.Error("the first instance did not see qemu exit")
	}
	assertNothingLeft(t, l, "vm1", rec.PID)

	// The guest is gone now: Adopt says so, Cleanup is idempotent.
	if _, err := l2.Adopt(ctx, rec); !errors.Is(err, ErrGone) {
		t.Errorf("adopting a stopped guest: %v, want ErrGone", err)
	}
	for range 2 {
		if err := l2.Cleanup(ctx, rec); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

func TestPrivQEMUExitsUnexpectedly(t *testing.T) {
	l, _ := fakeLauncher(t, "crash")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := l.Start(ctx, testSpec("vm2"))
	if err != nil {
		// The fake crashes 300ms after QMP is up; Start normally wins.
		t.Skipf("start lost the race with the crash: %v", err)
	}
	select {
	case <-inst.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
	rec := inst.Record()
	if rec.State != api.StateFailed || !strings.Contains(inst.ExitReason(), "status 3") ||
		!strings.Contains(inst.ExitReason(), "fake crash") || rec.Reason != inst.ExitReason() {
		t.Errorf("record %+v, reason %q", rec, inst.ExitReason())
	}
	if err := l.Cleanup(ctx, rec); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, "vm2", rec.PID)
}

func TestPrivStartFailures(t *testing.T) {
	l, cfg := fakeLauncher(t, "fail")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := l.Start(ctx, testSpec("vm3"))
	var de *api.DetailError
	if !errors.Is(err, api.ErrQEMU) || !errors.As(err, &de) || !strings.Contains(de.Detail, "Cannot allocate memory") {
		t.Errorf("failing qemu: %v, want api.ErrQEMU with stderr in the detail", err)
	}
	if e := api.ErrorFor(err); e.Code != "qemu" || !strings.Contains(e.Detail, "Cannot allocate memory") {
		t.Errorf("api error %+v", e)
	}
	assertNothingLeft(t, l, "vm3", 0)

	spec := testSpec("vm3")
	spec.Image = "nosuch"
	if _, err := l.Start(ctx, spec); !errors.Is(err, api.ErrNoImage) || !strings.Contains(err.Error(), "nosuch/vmlinuz") {
		t.Errorf("missing image: %v", err)
	}
	spec = testSpec("Bad_Name")
	if _, err := l.Start(ctx, spec); !errors.Is(err, api.ErrInvalidSpec) {
		t.Errorf("bad spec: %v", err)
	}
	cfg.QEMU = "/nonexistent/qemu-system-x86_64"
	lb, _ := NewLauncher(cfg)
	defer lb.Close()
	if _, err := lb.Start(ctx, testSpec("vm3")); !errors.Is(err, api.ErrQEMU) || !strings.Contains(err.Error(), "/nonexistent") {
		t.Errorf("missing binary: %v", err)
	}
	assertNothingLeft(t, l, "vm3", 0)
	cfg.QEMU, cfg.Bridge = l.cfg.QEMU, "nfh-nobr"
	lc, _ := NewLauncher(cfg)
	defer lc.Close()
	if _, err := lc.Start(ctx, testSpec("vm3")); err == nil || !strings.Contains(err.Error(), "nfh-nobr") {
		t.Errorf("missing bridge: %v", err)
	}
	assertNothingLeft(t, l, "vm3", 0)
}

func TestPrivQMPTimeout(t *testing.T) {
	l, _ := fakeLauncher(t, "hang")
	l.qmpTimeout = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := l.Start(ctx, testSpec("vm4"))
	if !errors.Is(err, api.ErrQEMU) || !strings.Contains(err.Error(), "qmp") {
		t.Errorf("hanging qemu: %v", err)
	}
	assertNothingLeft(t, l, "vm4", 0)
}

func TestPrivCleanupKillsLeftover(t *testing.T) {
	l, _ := fakeLauncher(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := l.Start(ctx, testSpec("vm5"))
	if err != nil {
		t.Fatal(err)
	}
	rec := inst.Record()
	inst.Detach()
	if err := l.Cleanup(ctx, rec); err != nil {
		t.Fatal(err)
	}
	<-inst.Done()
	assertNothingLeft(t, l, "vm5", rec.PID)
}

// The agent's tap descriptor reads frames queued for the guest (the
// fake QEMU never reads them), as the residual flush at switchover will.
func TestPrivTapResidueReadable(t *testing.T) {
	l, _ := fakeLauncher(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inst, err := l.Start(ctx, testSpec("vm6"))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(ctx)
	br, _ := netlink.LinkByName("nfh-br")
	addr, _ := netlink.ParseAddr("198.18.0.11/24")
	if err := netlink.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	// An ARP request for a guest address floods to the tap.
	c, err := net.Dial("udp4", "198.18.0.77:9")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	tap := inst.Taps()[0].File
	tap.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, err := tap.Read(buf)
		if err != nil {
			t.Fatalf("reading the tap: %v", err)
		}
		// Ethernet: broadcast destination, EtherType ARP, target 198.18.0.77.
		if n >= 42 && bytes.Equal(buf[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) &&
			buf[12] == 0x08 && buf[13] == 0x06 && net.IP(buf[38:42]).Equal(net.IPv4(198, 18, 0, 77)) {
			return
		}
	}
}
