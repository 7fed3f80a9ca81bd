package tapio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoTapOwner: no process in this network namespace has the tap open.
var ErrNoTapOwner = errors.New("no process here has the tap open")

// TapFileOf returns a descriptor of the tap named name, duplicated from the
// process that has it open (pidfd_getfd; the same open file, so the same
// queue, as QEMU's), for a tap the agent did not create: a libvirt
// guest's. The tap's name is looked up in /proc/*/fdinfo ("iff:") among
// the processes in the caller's network namespace: tap names are per
// namespace. The caller closes it; while it is open the tap outlives its
// QEMU, so close it once the guest has left.
func TapFileOf(name string) (*os.File, int, error) {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil, 0, fmt.Errorf("tap %s: own network namespace: %w", name, err)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, 0, fmt.Errorf("tap %s: %w", name, err)
	}
	want := []byte("iff:\t" + name + "\n")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns/net")); err != nil || ns != self {
			continue
		}
		fd, ok := tapFD(pid, want)
		if !ok {
			continue
		}
		f, err := dupFrom(pid, fd, name)
		if err != nil {
			return nil, 0, err
		}
		return f, pid, nil
	}
	return nil, 0, fmt.Errorf("tap %s: %w", name, ErrNoTapOwner)
}

// tapFD is the descriptor of process pid whose fdinfo has line want.
func tapFD(pid int, want []byte) (int, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fdinfo")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Only tun descriptors have an iff line; reading every fdinfo
		// costs a few ms for a QEMU's hundred descriptors, once per tap.
		if l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", e.Name())); err != nil || !strings.HasSuffix(l, "tun") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if bytes.Equal(append(sc.Bytes(), '\n'), want) {
				return fd, true
			}
		}
	}
	return 0, false
}

// dupFrom duplicates descriptor fd of process pid.
func dupFrom(pid, fd int, name string) (*os.File, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("tap %s: pidfd_open %d: %w", name, pid, err)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, fmt.Errorf("tap %s: pidfd_getfd %d/%d: %w", name, pid, fd, err)
	}
	return os.NewFile(uintptr(nfd), "tap:"+name), nil
}
