package session

import (
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// qemuSocketDepth is the send buffer the destination agent asks for on its
// sockets to QEMU through pre-copy (the kernel doubles it for its own
// accounting). With the kernel's default (208 KiB here) the destination
// QEMU, the slowest stage of the pipe on two cores, ran dry between the
// agent's writes: a 1 GiB guest's pre-copy took 2.8-3.0 s; with 1 MiB
// 2.4-2.7 s (medians of 5: 2935 → 2489 ms), the guest's pause unchanged
// (17-24 ms). 4 MiB gained no more. Once Commit arrives the buffers go
// back to what they were: in post-copy a page the guest waits for must
// not queue behind megabytes of bulk.
const qemuSocketDepth = 1 << 20

// socketDepth deepens the destination's sockets to QEMU until Commit.
type socketDepth struct {
	mu        sync.Mutex
	committed bool
	socks     []deepened
}

// deepened is a socket and its send buffer before deepen.
type deepened struct {
	c    *net.UnixConn
	orig int
}

// deepen sets c's send buffer to qemuSocketDepth, unless Commit came. As
// root the kernel's ceiling (net.core.wmem_max) does not apply. Failures
// leave the kernel's default: slower, nothing lost.
func (s *socketDepth) deepen(c net.Conn) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return
	}
	orig := -1
	sockControl(uc, func(fd int) {
		var err error
		if orig, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil {
			orig = -1
			return
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, qemuSocketDepth) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, qemuSocketDepth)
		}
	})
	if orig > 0 {
		s.socks = append(s.socks, deepened{uc, orig})
	}
}

// commit gives every deepened socket its send buffer back: what it
// already holds still goes first, nothing more queues behind it.
func (s *socketDepth) commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = true
	for _, d := range s.socks {
		// The kernel reports the doubled value it keeps; half of it
		// sets the same again.
		sockControl(d.c, func(fd int) {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, d.orig/2)
		})
	}
	s.socks = nil
}

// sockControl runs f on c's descriptor; a closed socket is skipped.
func sockControl(c *net.UnixConn, f func(fd int)) {
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { f(int(fd)) })
	}
}
