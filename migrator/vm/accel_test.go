package vm

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func accelLauncher(t *testing.T, mode, cache string) (*Launcher, string) {
	t.Helper()
	img := t.TempDir()
	writeImage(t, img, "vnf")
	cfg := Config{StateDir: t.TempDir(), ImageDir: img, AccelCache: cache}
	log := useFakeQEMU(t, &cfg, mode)
	l, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.probeTimeout = 500 * time.Millisecond
	return l, log
}

func needKVMNode(t *testing.T) {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		t.Skipf("probe needs an openable /dev/kvm: %v", err)
	} else {
		f.Close()
	}
}

func TestAccelFixed(t *testing.T) {
	for _, a := range []string{AccelKVM, AccelTCG} {
		l, err := NewLauncher(Config{StateDir: "/s", ImageDir: "/nonexistent", Accel: a})
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Accel(context.Background(), "vnf")
		l.Close()
		if err != nil || got != a {
			t.Errorf("fixed %s: got %q, %v", a, got, err)
		}
	}
}

func TestAccelProbe(t *testing.T) {
	needKVMNode(t)
	for _, tc := range []struct{ mode, want string }{
		{"probe-ok", AccelKVM},
		{"probe-fail", AccelTCG},
		{"probe-hang", AccelTCG},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "sub", "accel.json")
			l, log := accelLauncher(t, tc.mode, cache)
			ctx := context.Background()
			for range 2 {
				got, err := l.Accel(ctx, "vnf")
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %s", got, err, tc.want)
				}
			}
			if n := fakeRuns(t, log, tc.mode); n != 1 {
				t.Errorf("probe ran %d times, want 1 (memory cache)", n)
			}
			var entries map[string]accelEntry
			b, err := os.ReadFile(cache)
			if err != nil || json.Unmarshal(b, &entries) != nil || len(entries) != 1 {
				t.Fatalf("cache file: %v %s", err, b)
			}
			for _, e := range entries {
				if e.Accel != tc.want || e.Reason == "" {
					t.Errorf("cache entry %+v", e)
				}
			}
			// A second launcher (another agent) uses the file, not a probe.
			l2, _ := accelLauncher(t, tc.mode, cache)
			l2.cfg.ImageDir, l2.cfg.QEMU = l.cfg.ImageDir, l.cfg.QEMU
			if got, err := l2.Accel(ctx, "vnf"); err != nil || got != tc.want {
				t.Fatalf("second launcher: %q, %v", got, err)
			}
			if n := fakeRuns(t, log, tc.mode); n != 1 {
				t.Errorf("probe ran %d times with a cache file, want 1", n)
			}
		})
	}
}

func TestAccelConcurrentAgentsProbeOnce(t *testing.T) {
	needKVMNode(t)
	cache := filepath.Join(t.TempDir(), "accel.json")
	first, log := accelLauncher(t, "probe-ok", cache)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		l, _ := accelLauncher(t, "probe-ok", cache)
		l.cfg.ImageDir = first.cfg.ImageDir
		wg.Go(func() {
			if a, err := l.Accel(context.Background(), "vnf"); err != nil || a != AccelKVM {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("probe: %v", err)
	}
	if n := fakeRuns(t, log, "probe-ok"); n != 1 {
		t.Errorf("4 agents probed %d times, want 1", n)
	}
}

func TestAccelCacheKeyChangesWithKernel(t *testing.T) {
	l, _ := accelLauncher(t, "probe-ok", filepath.Join(t.TempDir(), "a.json"))
	k := filepath.Join(l.cfg.ImageDir, "vnf", "vmlinuz")
	k1, err := l.accelKey(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(k, []byte("another kernel, longer"), 0o644)
	k2, _ := l.accelKey(context.Background(), k)
	if k1 == k2 {
		t.Errorf("key unchanged after the kernel changed: %s", k1)
	}
}
