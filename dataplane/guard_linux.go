package dataplane

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// guard is the agent's half of the program's guard over a post-copy
// running here (agent_gone in handoff.c): a UDP socket bound to 127.0.0.1
// and to the VM's tap, whose port the program looks up before it passes a
// frame. The kernel closes it when the agent dies, however it dies; the
// program then holds the guest's traffic, so no frame drives QEMU's main
// thread into guest memory that cannot arrive until the next run recovers
// the stream. It never receives anything (nothing is routed to 127.0.0.1
// through a tap).
type guard struct {
	fd   int
	port uint16
}

// openGuard opens the guard socket of tap. Close-on-exec: a QEMU the agent
// starts later must not keep it open past the agent.
func openGuard(tap string) (*guard, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("guard socket: %w", err)
	}
	g := &guard{fd: fd}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, tap); err != nil {
		g.close()
		return nil, fmt.Errorf("guard socket: binding to %s: %w", tap, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		g.close()
		return nil, fmt.Errorf("guard socket: binding to 127.0.0.1 (is lo up?): %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		g.close()
		return nil, fmt.Errorf("guard socket: %w", err)
	}
	g.port = uint16(sa.(*unix.SockaddrInet4).Port)
	return g, nil
}

// close closes the socket; nil does nothing.
func (g *guard) close() {
	if g != nil && g.fd >= 0 {
		unix.Close(g.fd)
		g.fd = -1
	}
}
