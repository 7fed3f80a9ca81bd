package verify

import (
	"net"

	"golang.org/x/sys/unix"
)

// queued reports whether a datagram waits in conn's receive queue (SIOCINQ:
// the size of the next one). It says false when it cannot tell.
func queued(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
		return false
	}
	return n > 0
}
