package vm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// imageDir finds the guest images: $NFH_IMAGE_DIR, or build/images at the
// repository root. It skips the test when there is no vnf image.
func imageDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NFH_IMAGE_DIR")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; d != "/"; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "build", "images")
				break
			}
		}
	}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if _, err := os.Stat(filepath.Join(dir, "vnf", f)); err != nil {
			privtest.Unavailable(t, "no guest image (make image, or set NFH_IMAGE_DIR): %v", err)
		}
	}
	return dir
}

// realLauncher is a launcher in a fresh netns with a bridge, using the
// system QEMU under TCG.
func realLauncher(t *testing.T, imgDir string) (*Launcher, Config) {
	t.Helper()
	inFreshNetns(t, "nfh-br")
	state, err := os.MkdirTemp("", "nfhvm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	cfg := Config{Host: "hostT", StateDir: state, ImageDir: imgDir, Accel: AccelTCG}
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, cfg
}

// waitConsole waits until the console log contains marker, or the guest ends.
func waitConsole(ctx context.Context, inst *Instance, path, marker string) (string, error) {
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), marker) {
			return string(b), nil
		}
		select {
		case <-ctx.Done():
			return string(b), ctx.Err()
		case <-inst.Done():
			b, _ = os.ReadFile(path)
			return string(b), errors.New(inst.ExitReason())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestIntegrationLaunch(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	l, cfg := realLauncher(t, imageDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := testSpec("itest")
	spec.MemoryMiB = 256 // the Debian kernel does not boot in 64 MiB
	t0 := time.Now()
	inst, err := l.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(context.Background())
	tQMP := time.Since(t0)
	rec := inst.Record()
	if st, err := inst.QueryStatus(ctx); err != nil || st != "running" {
		t.Fatalf("status %q, %v", st, err)
	}
	want := "nfh-init: eth0 up " + spec.Address
	if out, err := waitConsole(ctx, inst, rec.ConsoleLog, want); err != nil {
		t.Fatalf("console never showed %q: %v\n%s", want, err, tail(out, 2000))
	}
	t.Logf("TCG boot: QMP up after %v, %q after %v", tQMP.Round(time.Millisecond), want, time.Since(t0).Round(time.Millisecond))

	// Agent restart: let go, adopt with a new launcher.
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
	if !ad.Record().Adopted || ad.Taps()[0].File == nil {
		t.Errorf("adopted %+v, tap file %v", ad.Record(), ad.Taps()[0].File)
	}
	if st, err := ad.QueryStatus(ctx); err != nil || st != "running" {
		t.Fatalf("adopted status %q, %v", st, err)
	}
	events := ad.Events(ctx)
	if err := ad.Execute(ctx, "stop", nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Name != "STOP" {
			t.Errorf("event %+v, want STOP", e)
		}
	case <-ctx.Done():
		t.Fatal("no STOP event")
	}
	if st, _ := ad.QueryStatus(ctx); st != "paused" {
		t.Errorf("status after stop %q, want paused", st)
	}
	if err := ad.Execute(ctx, "cont", nil, nil); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.Name != "RESUME" {
		t.Errorf("event %+v, want RESUME", e)
	}
	if err := ad.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, spec.Name, rec.PID)
	if _, err := l2.Adopt(ctx, rec); !errors.Is(err, ErrGone) {
		t.Errorf("adopt after stop: %v, want ErrGone", err)
	}
}

// A real QEMU that refuses to start gives api.ErrQEMU with its stderr.
func TestIntegrationQEMUFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	img := t.TempDir()
	writeImage(t, img, "vnf") // "not a kernel"
	l, _ := realLauncher(t, img)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := l.Start(ctx, testSpec("bad"))
	var de *api.DetailError
	if !errors.Is(err, api.ErrQEMU) || !errors.As(err, &de) || !strings.Contains(de.Detail, "kernel") {
		t.Fatalf("got %v, want api.ErrQEMU with QEMU's stderr", err)
	}
	t.Logf("error: %v\ndetail: %s", err, de.Detail)
	assertNothingLeft(t, l, "bad", 0)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// The real boot test decides kvm or tcg, caches it, and leaves no QEMU.
func TestIntegrationAccelProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	img := imageDir(t)
	cache := filepath.Join(t.TempDir(), "accel.json")
	l, err := NewLauncher(Config{StateDir: t.TempDir(), ImageDir: img, AccelCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	a, err := l.Accel(ctx, "vnf")
	if err != nil || (a != AccelKVM && a != AccelTCG) {
		t.Fatalf("accel %q, %v", a, err)
	}
	b, _ := os.ReadFile(cache)
	t.Logf("accel %s after %v; cache: %s", a, time.Since(t0).Round(time.Millisecond), b)
	if !strings.Contains(string(b), `"accel": "`+a+`"`) {
		t.Errorf("cache file does not hold %s: %s", a, b)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if c, _ := os.ReadFile(p); strings.Contains(string(c), "nfh.probe=1") && strings.Contains(string(c), img) {
			t.Errorf("probe qemu still running: %s", p)
		}
	}
}

// A migration destination waits in "inmigrate" for migrate-incoming.
func TestIntegrationStartIncoming(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	l, _ := realLauncher(t, imageDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := testSpec("incoming")
	spec.MemoryMiB = 256
	inst, err := l.StartIncoming(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	rec := inst.Record()
	if rec.State != api.StateStarting {
		t.Errorf("state %q, want starting", rec.State)
	}
	if st, err := inst.QueryStatus(ctx); err != nil || st != "inmigrate" {
		t.Errorf("status %q, %v; want inmigrate", st, err)
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, l, spec.Name, rec.PID)
}
