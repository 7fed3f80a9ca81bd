package vnf

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

const udpMemPath = "/proc/sys/net/ipv4/udp_mem"

var raiseUDPMemOnce sync.Once

// raiseUDPMem lifts net.ipv4.udp_mem, the guest-wide limit on memory in UDP
// sockets (pages: min, pressure, max), so that it is no smaller than one
// socket's RecvBufferBytes. Its default scales with the guest's RAM: in a
// 192 MiB guest a rollback after a 12 s blackout returned ~24k frames and
// the guest dropped 1792 of them as UDP memory errors, with the socket's own
// buffer far from full. It only raises, once per process; a failure (not
// root) leaves the default.
func raiseUDPMem() {
	raiseUDPMemOnce.Do(func() {
		b, err := os.ReadFile(udpMemPath)
		if err != nil {
			return
		}
		var lo, pressure, hi int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &pressure, &hi); err != nil {
			return
		}
		want := int64(RecvBufferBytes / os.Getpagesize())
		if hi >= want {
			return
		}
		_ = os.WriteFile(udpMemPath, fmt.Appendf(nil, "%d %d %d\n", lo, max(pressure, want), want), 0o644)
	})
}
