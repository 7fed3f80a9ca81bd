package vm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrGone means the guest's QEMU process no longer exists (or the pid now
// belongs to another process).
var ErrGone = errors.New("qemu process gone")

// isOurQEMU reports whether pid runs a QEMU started for VM name with QMP
// socket qmpSock, judged by its command line.
func isOurQEMU(pid int, name, qmpSock string) (bool, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return false, nil
		}
		return false, err
	}
	if len(b) == 0 { // zombie or kernel thread
		return false, nil
	}
	args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	var haveName, haveQMP bool
	for _, a := range args {
		switch string(a) {
		case guestName(name):
			haveName = true
		case qmpArg(qmpSock):
			haveQMP = true
		}
	}
	return haveName && haveQMP, nil
}

// openPidfd opens a pidfd for pid and checks, after opening, that it still
// is our QEMU, so the pidfd cannot refer to a reused pid.
func openPidfd(pid int, name, qmpSock string) (int, error) {
	if pid <= 0 {
		return -1, fmt.Errorf("%w: no pid recorded", ErrGone)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, fmt.Errorf("%w: pid %d does not exist", ErrGone, pid)
		}
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	ok, err := isOurQEMU(pid, name, qmpSock)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("reading pid %d cmdline: %w", pid, err)
	}
	if !ok {
		unix.Close(fd)
		return -1, fmt.Errorf("%w: pid %d is not the qemu of %s", ErrGone, pid, name)
	}
	return fd, nil
}

// waitPidfd blocks until the process behind pidfd has exited.
func waitPidfd(pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// tapFromProcess duplicates fd targetFD of the process behind pidfd and
// checks that it is the tap named tap (via /proc/<pid>/fdinfo).
func tapFromProcess(pidfd, pid, targetFD int, tap string) (*os.File, error) {
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, targetFD))
	if err != nil {
		return nil, fmt.Errorf("reading fdinfo: %w", err)
	}
	if !fdinfoHasIff(info, tap) {
		return nil, fmt.Errorf("fd %d of pid %d is not tap %s", targetFD, pid, tap)
	}
	fd, err := unix.PidfdGetfd(pidfd, targetFD, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_getfd: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// fdinfoHasIff reports whether a tun fdinfo names device tap ("iff:\t<name>").
func fdinfoHasIff(info []byte, tap string) bool {
	for _, line := range strings.Split(string(info), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == "iff" && strings.TrimSpace(v) == tap {
			return true
		}
	}
	return false
}
