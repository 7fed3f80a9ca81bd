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

// Run answers each request with one report carrying its id, the last of
// several queued up, and nothing unasked.
func TestRunAnswersRequests(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := os.NewFile(uintptr(fds[1]), "host")
	defer host.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	hot := make([]byte, 8*pageSize)
	for i := 0; i < len(hot); i += pageSize {
		hot[i] = 1 // resident
	}
	opened := false
	open := func() (*port, error) {
		if opened {
			return nil, errors.New("opened twice")
		}
		opened = true
		return &port{fd: fds[0], path: "socketpair"}, nil
	}
	go func() {
		defer close(done)
		Run(ctx, Config{Port: DefaultPort, Hot: hot, MinGap: time.Millisecond, open: open}, nil)
	}()
	defer func() { cancel(); <-done }()
	sc := wsreport.NewScanner(host)
	ask := func(ids ...uint32) {
		var b []byte
		for _, id := range ids {
			b = wsreport.AppendRequest(b, id)
		}
		b = append([]byte("noise"), b...)
		for len(b) > 0 { // one byte at a time: requests cut anywhere
			if _, err := host.Write(b[:1]); err != nil {
				t.Fatal(err)
			}
			b = b[1:]
		}
	}
	host.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []uint32{1, 7, 1 << 31} {
		ask(want)
		rep, err := sc.Next()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Seq != uint64(want) || rep.Hot < 1 || rep.Pages() < 8 {
			t.Fatalf("answer to %d: seq %d, %d hot of %d ranges, %d pages", want, rep.Seq, rep.Hot, len(rep.Ranges), rep.Pages())
		}
	}
	// Unasked, the guest writes nothing.
	host.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if rep, err := sc.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unasked: %+v, %v", rep, err)
	}
}
