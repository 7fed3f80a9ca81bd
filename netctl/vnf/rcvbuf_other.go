//go:build !linux

package vnf

import "net"

// sizeReceiveBuffer raises c's receive buffer to RecvBufferBytes as far as
// the system allows.
func sizeReceiveBuffer(c *net.UDPConn) { _ = c.SetReadBuffer(RecvBufferBytes) }
