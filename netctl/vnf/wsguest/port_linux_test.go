package wsguest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// fakePort makes a sysfs entry for port name and a FIFO as its node; it
// returns the sys and dev dirs and the FIFO's read end.
func fakePort(t *testing.T, name string) (sys, dev string, r *os.File) {
	t.Helper()
	sys, dev = t.TempDir(), t.TempDir()
	for i, n := range []string{"org.other", name} {
		d := filepath.Join(sys, "vport0p"+string(rune('1'+i)))
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, "name"), []byte(n+"\n"), 0o644)
	}
	node := filepath.Join(dev, "vport0p2")
	if err := unix.Mkfifo(node, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(node, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A writer of its own: a FIFO without one reads as EOF.
	w, err := os.OpenFile(node, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return sys, dev, r
}

func TestOpenPort(t *testing.T) {
	sys, dev, _ := fakePort(t, DefaultPort)
	p, err := openPort(sys, dev, DefaultPort)
	if err != nil {
		t.Fatal(err)
	}
	p.close()
	if p.path != filepath.Join(dev, "vport0p2") {
		t.Errorf("opened %s", p.path)
	}
	if _, err := openPort(sys, dev, "org.missing"); !errors.Is(err, ErrNoPort) {
		t.Errorf("missing port: %v", err)
	}
}

func TestMknod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dev"), []byte("1:3\n"), 0o644) // /dev/null's
	if err := mknod(filepath.Join(dir, "node"), filepath.Join(dir, "dev")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "node"), &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("node: %v, rdev %#x", err, st.Rdev)
	}
	os.WriteFile(filepath.Join(dir, "bad"), []byte("x"), 0o644)
	if err := mknod(filepath.Join(dir, "n2"), filepath.Join(dir, "bad")); err == nil {
		t.Error("a bad dev file made a node")
	}
}

// Run sends a report at once and then every interval; the host side
// decodes them in order.
func TestRunSendsReports(t *testing.T) {
	sys, dev, r := fakePort(t, DefaultPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	hot := make([]byte, 8*pageSize)
	go func() {
		defer close(done)
		Run(ctx, Config{Port: DefaultPort, Hot: hot, Interval: 20 * time.Millisecond, sys: sys, dev: dev}, nil)
	}()
	defer func() { cancel(); <-done }()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	sc := wsreport.NewScanner(r)
	for want := uint64(1); want <= 3; want++ {
		rep, err := sc.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Seq != want {
			t.Fatalf("report %d has seq %d", want, rep.Seq)
		}
	}
}
