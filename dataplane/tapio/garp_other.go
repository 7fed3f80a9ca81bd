//go:build !linux

package tapio

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// SendGARP is not implemented on this GOOS.
func SendGARP(ctx context.Context, ifname string, mac net.HardwareAddr, ip netip.Addr, count int, first time.Duration) (sent int, err error) {
	return 0, fmt.Errorf("gratuitous ARP: %w", errNotLinux)
}
