package vnf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// dropReader reads the guest kernel's counters of packets dropped before
// they reached a vnf socket: a burst (the frames a rollback returns) can
// overflow a socket's buffer or udp_mem, or the interface's queue, and no
// counter of the vnf's own sees it.
type dropReader struct {
	snmp   string // /proc/net/snmp
	netDir string // /sys/class/net
	// iface is the interface whose rx_dropped is reported; "" sums every
	// interface but lo. The test guest's init starts the vnf without
	// --listen (0.0.0.0), so there it is the sum, which is eth0's: the
	// guest has no other interface.
	iface string
}

// newDropReader reports rx_dropped of the interface carrying ip, or of
// all interfaces but lo when ip is unspecified or on no interface.
func newDropReader(ip net.IP) dropReader {
	return dropReader{snmp: "/proc/net/snmp", netDir: "/sys/class/net", iface: ifaceWith(ip)}
}

// ifaceWith returns the name of the interface that has address ip, or "".
func ifaceWith(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return ""
	}
	if names, _ := interfacesWith(ip); len(names) > 0 {
		return names[0]
	}
	return ""
}

// interfacesWith returns the interfaces that have address ip, with it; for
// an unspecified ip, every interface up with an IPv4 address besides
// loopback, with its first one.
func interfacesWith(ip net.IP) (names []string, addrs []net.IP) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil
	}
	anyV4 := ip == nil || ip.IsUnspecified()
	for _, ifi := range ifs {
		if anyV4 && (ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagUp == 0) {
			continue
		}
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			n, ok := a.(*net.IPNet)
			if ok && (n.IP.Equal(ip) || anyV4 && n.IP.To4() != nil) {
				names, addrs = append(names, ifi.Name), append(addrs, n.IP)
				break
			}
		}
	}
	return names, addrs
}

// read fills s's drop counters and their Reported bits with what it can
// read; a missing file or column leaves that counter not reported.
func (d dropReader) read(s *vnfproto.Status) {
	if b, err := os.ReadFile(d.snmp); err == nil {
		if udp, err := parseSNMPUDP(b); err == nil {
			for _, c := range []struct {
				name string
				v    *uint64
				bit  vnfproto.Counters
			}{
				{"InErrors", &s.UDPInErrors, vnfproto.HasUDPInErrors},
				{"RcvbufErrors", &s.UDPRcvbufErrors, vnfproto.HasUDPRcvbufErrors},
				{"MemErrors", &s.UDPMemErrors, vnfproto.HasUDPMemErrors},
			} {
				if v, ok := udp[c.name]; ok {
					*c.v = v
					s.Reported |= c.bit
				}
			}
		}
	}
	if v, ok := d.rxDropped(); ok {
		s.RxDropped = v
		s.Reported |= vnfproto.HasRxDropped
	}
}

// rxDropped returns d.iface's rx_dropped, or the sum over every interface
// but lo whose counter is readable; false when none is.
func (d dropReader) rxDropped() (uint64, bool) {
	names := []string{d.iface}
	if d.iface == "" {
		ents, err := os.ReadDir(d.netDir)
		if err != nil {
			return 0, false
		}
		names = names[:0]
		for _, e := range ents {
			if e.Name() != "lo" {
				names = append(names, e.Name())
			}
		}
	}
	var sum uint64
	ok := false
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(d.netDir, n, "statistics", "rx_dropped"))
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil {
			continue
		}
		sum += v
		ok = true
	}
	return sum, ok
}

var errNoUDP = errors.New("no Udp lines")

// parseSNMPUDP returns the columns of the "Udp:" lines of /proc/net/snmp
// (a header line of names, then one of values) by name. Columns come and go
// with kernel versions (MemErrors is recent), so callers look up the ones
// they want and treat a missing one as not reported.
func parseSNMPUDP(b []byte) (map[string]uint64, error) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		if len(f)-1 != len(names) {
			return nil, fmt.Errorf("udp snmp: %d names, %d values", len(names), len(f)-1)
		}
		cols := make(map[string]uint64, len(names))
		for i, n := range names {
			v, err := strconv.ParseUint(f[1+i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("udp snmp %s: %w", n, err)
			}
			cols[n] = v
		}
		return cols, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errNoUDP
}
