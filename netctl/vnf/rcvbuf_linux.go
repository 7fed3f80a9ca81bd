package vnf

import (
	"net"
	"syscall"
)

// sizeReceiveBuffer raises c's receive buffer to RecvBufferBytes, past
// net.core.rmem_max when the process may (SO_RCVBUFFORCE needs
// CAP_NET_ADMIN, which the guest's init has), and the guest-wide UDP
// memory limit with it (raiseUDPMem); failures leave the default.
func sizeReceiveBuffer(c *net.UDPConn) {
	raiseUDPMem()
	raw, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, RecvBufferBytes)
		})
		if err == nil && serr == nil {
			return
		}
	}
	_ = c.SetReadBuffer(RecvBufferBytes)
}
