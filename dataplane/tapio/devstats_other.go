//go:build !linux

package tapio

import (
	"fmt"
	"runtime"
)

// errNotLinux is what the Linux-only packet I/O returns elsewhere.
var errNotLinux = fmt.Errorf("not implemented on %s", runtime.GOOS)

// DevStats is not implemented on this GOOS.
func DevStats(ifname string) (DevCounters, error) {
	return DevCounters{}, fmt.Errorf("device counters of %s: %w", ifname, errNotLinux)
}
