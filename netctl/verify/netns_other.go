//go:build !linux

package verify

import (
	"fmt"
	"net"
	"runtime"
)

func dialIn(ns string, dst *net.UDPAddr) (*net.UDPConn, error) {
	if ns != "" {
		return nil, fmt.Errorf("netns %s: not implemented on %s", ns, runtime.GOOS)
	}
	return net.DialUDP("udp", nil, dst)
}
