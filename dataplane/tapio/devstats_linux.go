package tapio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// DevStats returns the counters of device ifname in the calling thread's
// network namespace. It asks rtnetlink rather than reading
// /sys/class/net/<if>/statistics: sysfs shows the namespace it was mounted
// in, which is not the thread's after a setns (tests, netns-bound helpers).
func DevStats(ifname string) (DevCounters, error) {
	c, err := newStatsConn()
	if err != nil {
		return DevCounters{}, err
	}
	defer c.close()
	return c.get(0, ifname)
}

// statsConn is an rtnetlink socket for link counters. The socket stays in
// the namespace it was opened in, whichever thread uses it later. Not safe
// for concurrent use.
type statsConn struct {
	fd  int
	buf []byte
}

var statsSeq atomic.Uint32

func newStatsConn() (*statsConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening rtnetlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding rtnetlink socket: %w", err)
	}
	return &statsConn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (c *statsConn) close() error { return unix.Close(c.fd) }

// get asks for link ifindex, or for link ifname when ifindex is 0.
func (c *statsConn) get(ifindex int, ifname string) (DevCounters, error) {
	what := ifname
	if ifindex != 0 {
		what = fmt.Sprintf("ifindex %d", ifindex)
	}
	seq := statsSeq.Add(1)
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg, 64)
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETLINK)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], seq)
	binary.NativeEndian.PutUint32(req[unix.SizeofNlMsghdr+4:], uint32(int32(ifindex)))
	if ifindex == 0 {
		attr := make([]byte, unix.SizeofRtAttr+len(ifname)+1) // NUL-terminated
		binary.NativeEndian.PutUint16(attr[0:], uint16(len(attr)))
		binary.NativeEndian.PutUint16(attr[2:], unix.IFLA_IFNAME)
		copy(attr[unix.SizeofRtAttr:], ifname)
		req = append(req, attr...)
		for len(req)%4 != 0 {
			req = append(req, 0)
		}
	}
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return DevCounters{}, fmt.Errorf("asking for %s counters: %w", what, err)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return DevCounters{}, fmt.Errorf("reading %s counters: %w", what, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return DevCounters{}, fmt.Errorf("parsing %s counters: %w", what, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue // a late answer to an abandoned request
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
						return DevCounters{}, fmt.Errorf("link %s: %w", what, syscall.Errno(-e))
					}
				}
				return DevCounters{}, fmt.Errorf("link %s: empty answer", what)
			case unix.RTM_NEWLINK:
				return parseLinkCounters(m, what)
			}
		}
	}
}

func parseLinkCounters(m syscall.NetlinkMessage, what string) (DevCounters, error) {
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return DevCounters{}, fmt.Errorf("parsing link %s: %w", what, err)
	}
	var dc DevCounters
	var stats bool
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_STATS64:
			if len(a.Value) >= 64 { // struct rtnl_link_stats64, u64 fields
				dc.RxPackets = binary.NativeEndian.Uint64(a.Value[0:])
				dc.TxPackets = binary.NativeEndian.Uint64(a.Value[8:])
				dc.TxDropped = binary.NativeEndian.Uint64(a.Value[56:])
				stats = true
			}
		case unix.IFLA_TXQLEN:
			if len(a.Value) >= 4 {
				dc.TxQueueLen = binary.NativeEndian.Uint32(a.Value)
			}
		}
	}
	if !stats {
		return DevCounters{}, fmt.Errorf("link %s: no IFLA_STATS64 in the answer", what)
	}
	return dc, nil
}
