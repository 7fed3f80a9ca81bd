package vm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx/qmpxtest"
)

// The test binary doubles as a fake QEMU: with NFH_FAKE_QEMU set it acts
// out that mode instead of running tests. Every run appends its mode to
// the file named by NFH_FAKE_QEMU_LOG (if set).
func TestMain(m *testing.M) {
	if mode := os.Getenv("NFH_FAKE_QEMU"); mode != "" {
		os.Exit(fakeQEMU(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// useFakeQEMU makes cfg.QEMU the fake in mode; it returns the log path.
func useFakeQEMU(t *testing.T, cfg *Config, mode string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QEMU = exe
	if os.Getenv("NFH_FAKE_QEMU") == mode && os.Getenv("NFH_FAKE_QEMU_LOG") != "" {
		return os.Getenv("NFH_FAKE_QEMU_LOG") // same test, same mode: share the log
	}
	log := filepath.Join(t.TempDir(), "fake-qemu.log")
	t.Setenv("NFH_FAKE_QEMU", mode)
	t.Setenv("NFH_FAKE_QEMU_LOG", log)
	return log
}

// fakeRuns counts the fake's runs in mode (excluding -version).
func fakeRuns(t *testing.T, log, mode string) int {
	b, _ := os.ReadFile(log)
	return strings.Count(string(b), mode+"\n")
}

func writeImage(t *testing.T, dir, name string) {
	t.Helper()
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if err := os.WriteFile(filepath.Join(d, f), []byte("not a kernel"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fakeQEMU(mode string, args []string) int {
	if len(args) == 1 && args[0] == "-version" {
		fmt.Println("QEMU emulator version 7.2.99 (fake)")
		return 0
	}
	if log := os.Getenv("NFH_FAKE_QEMU_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintln(f, mode)
			f.Close()
		}
	}
	arg := func(flag string) string {
		for i, a := range args {
			if a == flag && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	switch mode {
	case "probe-ok":
		serial := strings.TrimPrefix(arg("-serial"), "file:")
		os.WriteFile(serial, []byte("booting\n"+ProbeMarker+"\n"), 0o644)
		return 0
	case "probe-fail":
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied")
		return 1
	case "hang", "probe-hang":
		time.Sleep(time.Hour)
		return 0
	case "fail":
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -m 99999: cannot set up guest memory 'pc.ram': Cannot allocate memory")
		return 1
	case "ok", "crash":
	default:
		fmt.Fprintln(os.Stderr, "fake qemu: unknown mode", mode)
		return 2
	}
	// A running guest: check each -netdev's fd is a tap, serve QMP until quit.
	netdevs := 0
	for i, a := range args {
		if a != "-netdev" || i+1 == len(args) {
			continue
		}
		netdevs++
		_, fd, _ := strings.Cut(args[i+1], ",fd=")
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd)
		if err != nil || !strings.Contains(string(info), "iff:") {
			fmt.Fprintf(os.Stderr, "qemu-system-x86_64: -netdev %s: not a tap (%v)\n", args[i+1], err)
			return 1
		}
	}
	if netdevs == 0 {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: no -netdev")
		return 1
	}
	sock := strings.TrimSuffix(strings.TrimPrefix(arg("-qmp"), "unix:"), ",server=on,wait=off")
	os.WriteFile(arg("-pidfile"), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o600)
	quit := make(chan struct{}, 1)
	srv, err := qmpxtest.NewServer(sock, func(cmd string, _ json.RawMessage) (any, error) {
		switch cmd {
		case qmpcmd.QueryStatus:
			return map[string]any{"status": "running", "running": true}, nil
		case qmpcmd.Quit:
			quit <- struct{}{}
			return nil, nil
		}
		return nil, fmt.Errorf("The command %s has not been found", cmd)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -qmp:", err)
		return 1
	}
	if mode == "crash" {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: fake crash")
		return 3
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	select {
	case <-quit:
		time.Sleep(20 * time.Millisecond) // let the answer out
	case <-term:
	}
	srv.Close()
	os.Remove(sock)
	return 0
}
