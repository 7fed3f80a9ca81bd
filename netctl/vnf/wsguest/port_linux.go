package wsguest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// ErrNoPort: no virtio-serial port has the name asked for.
var ErrNoPort = errors.New("no virtio-serial port")

// errNoHost: the port's host end is closed (nobody reads it).
var errNoHost = errors.New("host end of the port closed")

// errNoRequest: no whole request arrived within requestPoll.
var errNoRequest = errors.New("no request")

// requestPoll bounds one wait for a request, so that Run sees its ctx end.
const requestPoll = 250 * time.Millisecond

// port is an open virtio-serial port, read and written without blocking.
type port struct {
	fd    int
	path  string
	carry []byte // the start of a request cut by a read
	buf   [4096]byte
}

// openPort finds the port named name under sys (/sys/class/virtio-ports)
// and opens its node under dev (/dev), making the node from sysfs's
// major:minor if no devtmpfs or udev made it.
func openPort(sys, dev, name string) (*port, error) {
	dirs, _ := filepath.Glob(filepath.Join(sys, "*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "name"))
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		node := filepath.Join(dev, filepath.Base(d))
		if _, err := os.Stat(node); errors.Is(err, fs.ErrNotExist) {
			if err := mknod(node, filepath.Join(d, "dev")); err != nil {
				return nil, err
			}
		}
		fd, err := unix.Open(node, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", node, err)
		}
		return &port{fd: fd, path: node}, nil
	}
	return nil, fmt.Errorf("%w named %s in %s", ErrNoPort, name, sys)
}

// mknod makes a character device node from a sysfs dev file ("252:1").
func mknod(node, devFile string) error {
	b, err := os.ReadFile(devFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", devFile, err)
	}
	maj, minor, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(minor, 10, 32)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("%s: bad device number %q", devFile, b)
	}
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(ma), uint32(mi)))); err != nil {
		return fmt.Errorf("making %s: %w", node, err)
	}
	return nil
}

// write writes all of b within d. A port whose host end is closed fails
// at once with errNoHost; a write cut short leaves a torn report, which
// the host's reader skips.
func (p *port) write(b []byte, d time.Duration) error {
	deadline := time.Now().Add(d)
	for len(b) > 0 {
		n, err := unix.Write(p.fd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == nil || errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EAGAIN):
			return fmt.Errorf("writing %s: %w", p.path, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("writing %s: %w", p.path, os.ErrDeadlineExceeded)
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLOUT}}
		k, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("polling %s: %w", p.path, err)
		}
		if k > 0 && fds[0].Revents&unix.POLLHUP != 0 && fds[0].Revents&unix.POLLOUT == 0 {
			return errNoHost
		}
	}
	return nil
}

func (p *port) close() error { return unix.Close(p.fd) }

// request waits up to requestPoll for requests and returns the id of the
// last whole one read. A port whose host end is closed reads as EOF (and
// polls as hung up): errNoHost.
func (p *port) request(ctx context.Context) (uint32, error) {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	k, err := unix.Poll(fds, int(requestPoll/time.Millisecond))
	switch {
	case err != nil && !errors.Is(err, unix.EINTR):
		return 0, fmt.Errorf("polling %s: %w", p.path, err)
	case k == 0 || ctx.Err() != nil:
		return 0, errNoRequest
	}
	n, err := unix.Read(p.fd, p.buf[:])
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return 0, errNoRequest
	case err != nil:
		return 0, fmt.Errorf("reading %s: %w", p.path, err)
	case n == 0:
		p.carry = p.carry[:0] // a request cut by the host's close is void
		return 0, errNoHost
	}
	id, ok, tail := wsreport.LastRequest(append(p.carry, p.buf[:n]...))
	p.carry = append(p.carry[:0], tail...)
	if !ok {
		return 0, errNoRequest
	}
	return id, nil
}
