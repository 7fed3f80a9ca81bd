package vm

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFdinfoHasIff(t *testing.T) {
	info := []byte("pos:\t0\nflags:\t0104002\nmnt_id:\t25\nino:\t1059\niff:\tnfht511c93a7\n")
	for _, tc := range []struct {
		tap  string
		want bool
	}{{"nfht511c93a7", true}, {"nfht511c93a", false}, {"nfhtffffffff", false}} {
		if got := fdinfoHasIff(info, tc.tap); got != tc.want {
			t.Errorf("%s: got %v", tc.tap, got)
		}
	}
	if fdinfoHasIff([]byte("pos:\t0\nflags:\t02\n"), "nfht511c93a7") {
		t.Error("a non-tun fdinfo matched")
	}
}

// fakeGuest runs a process whose command line looks like vm's QEMU.
func fakeGuest(t *testing.T, vm, sock string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 60", "qemu", "-name", guestName(vm), "-qmp", qmpArg(sock))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Between fork and exec the child still shows the test's cmdline.
	for range 500 {
		if ok, _ := isOurQEMU(cmd.Process.Pid, vm, sock); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd
}

func TestIsOurQEMU(t *testing.T) {
	cmd := fakeGuest(t, "vm1", "/s/vms/vm1/qmp.sock")
	pid := cmd.Process.Pid
	for _, tc := range []struct {
		vm, sock string
		want     bool
	}{
		{"vm1", "/s/vms/vm1/qmp.sock", true},
		{"vm2", "/s/vms/vm1/qmp.sock", false},
		{"vm1", "/other/vms/vm1/qmp.sock", false},
	} {
		got, err := isOurQEMU(pid, tc.vm, tc.sock)
		if err != nil || got != tc.want {
			t.Errorf("%s %s: %v, %v", tc.vm, tc.sock, got, err)
		}
	}
	fd, err := openPidfd(pid, "vm1", "/s/vms/vm1/qmp.sock")
	if err != nil {
		t.Fatalf("openPidfd of our guest: %v", err)
	}
	defer unix.Close(fd)
	if _, err := openPidfd(pid, "vm2", "/s/vms/vm1/qmp.sock"); !errors.Is(err, ErrGone) {
		t.Errorf("openPidfd of another guest's pid: %v, want ErrGone", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := waitPidfd(fd); err != nil {
		t.Errorf("waitPidfd: %v", err)
	}
	if _, err := openPidfd(pid, "vm1", "/s/vms/vm1/qmp.sock"); !errors.Is(err, ErrGone) {
		t.Errorf("openPidfd of a dead pid: %v, want ErrGone", err)
	}
}
