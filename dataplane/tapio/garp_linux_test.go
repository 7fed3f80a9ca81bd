package tapio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0, 1, 2, 3}
	ip := netip.MustParseAddr("198.19.77.2")
	b, err := garpFrame(mac, ip)
	if err != nil {
		t.Fatal(err)
	}
	checkGARP(t, b, mac, ip)
	if _, err := garpFrame(mac[:5], ip); err == nil {
		t.Error("5-byte MAC accepted")
	}
	if _, err := garpFrame(mac, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("IPv6 address accepted")
	}
}

func checkGARP(t *testing.T, b []byte, mac net.HardwareAddr, ip netip.Addr) {
	t.Helper()
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Source, mac) || !bytes.Equal(f.Destination, ethernet.Broadcast) || f.EtherType != ethernet.EtherTypeARP {
		t.Fatalf("ethernet %v -> %v type %v; want %v -> broadcast, ARP", f.Source, f.Destination, f.EtherType, mac)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	if p.Operation != arp.OperationRequest || !bytes.Equal(p.SenderHardwareAddr, mac) || p.SenderIP != ip || p.TargetIP != ip {
		t.Fatalf("ARP %v sender %v/%v target %v/%v; want a request with sender %v/%v, target IP the same", p.Operation, p.SenderHardwareAddr, p.SenderIP, p.TargetHardwareAddr, p.TargetIP, mac, ip)
	}
}

// A veth pair: GARPs sent out of one end with the VM's MAC (not the veth's)
// arrive at the other, count of them, with doubling waits between them.
//
// Two things the test must not depend on: (1) a veth end brought up before
// its peer is activated by the kernel's linkwatch work, asynchronously (it
// waits for RTNL, which other tests' netns teardowns hold for long): until
// then its queue is noop_qdisc, which discards frames while sendto reports
// success; a probe frame must get through before the GARPs are sent. (2) When
// the test reads: the capture socket queues the frames with kernel receive
// timestamps (taken in the sender's sendto, veth delivery is synchronous), so
// the gaps are measured without the reader's scheduling.
func TestPrivSendGARP(t *testing.T) {
	ioEnterNetns(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "dptga"}, PeerName: "dptgb"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dptga", "dptgb"} {
		l, err := netlink.LinkByName(n)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	capt := newStampedCapture(t, "dptgb", ethernet.EtherTypeARP)
	mac := net.HardwareAddr{0x52, 0x54, 0, 0xd7, 0x20, 0x02}
	ip := netip.MustParseAddr("198.19.77.2")
	probeIP := netip.MustParseAddr("198.19.77.99")
	waitDelivers(t, "dptga", capt, mac, probeIP)

	const count, first = 4, 20 * time.Millisecond
	var waits []time.Duration
	recordWait := func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return Sleep(ctx, d)
	}
	sent, err := sendGARP(context.Background(), "dptga", mac, ip, count, first, recordWait)
	if err != nil || sent != count {
		t.Fatalf("SendGARP = %d, %v; want %d", sent, err, count)
	}
	if want := []time.Duration{first, 2 * first, 4 * first}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	// Every frame sent is queued on the capture socket by now; a short
	// timeout only ends the read of an empty queue.
	var stamps []time.Time
	for {
		b, at, err := capt.read(100 * time.Millisecond)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if isARPFrom(b, probeIP) {
			continue // a late readiness probe
		}
		if len(stamps) == count {
			t.Errorf("unexpected frame after %d GARPs: % x", count, b)
			continue
		}
		checkGARP(t, b, mac, ip)
		stamps = append(stamps, at)
	}
	if len(stamps) != count {
		t.Fatalf("captured %d GARPs, want %d (drops: %+v)", len(stamps), count, capt.stats(t))
	}
	// The sender's waits are lower bounds of the gaps between receive stamps
	// (taken in sendto, before and after the wait; timers never fire early).
	// The stamps are CLOCK_REALTIME: a millisecond of slack for a slewing clock.
	for i := 1; i < len(stamps); i++ {
		if gap, min := stamps[i].Sub(stamps[i-1]), waits[i-1]-time.Millisecond; gap < min {
			t.Errorf("gap %d: %v, want >= %v", i, gap, min)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sent, err := SendGARP(ctx, "dptga", mac, ip, 3, time.Hour); sent != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %d, %v; want 1 sent then context.Canceled", sent, err)
	}
	if sent, err := SendGARP(context.Background(), "dptga", mac, ip, 0, first); sent != 0 || err != nil {
		t.Errorf("count 0: %d, %v", sent, err)
	}
	if _, err := SendGARP(context.Background(), "dptnone", mac, ip, 1, first); err == nil {
		t.Error("missing interface accepted")
	}
}

// waitDelivers sends ARP probes (sender IP probeIP) out of ifname until one
// reaches capt: then ifname is activated and transmits.
func waitDelivers(t *testing.T, ifname string, capt *stampedCapture, mac net.HardwareAddr, probeIP netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := SendGARP(context.Background(), ifname, mac, probeIP, 1, 0); err != nil {
			t.Fatal(err)
		}
		for {
			b, _, err := capt.read(10 * time.Millisecond)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if isARPFrom(b, probeIP) {
				return
			}
			t.Fatalf("unexpected frame before the GARPs: % x", b)
		}
	}
	t.Fatalf("no probe got through %s", ifname)
}

func isARPFrom(b []byte, ip netip.Addr) bool {
	var f ethernet.Frame
	var p arp.Packet
	return f.UnmarshalBinary(b) == nil && f.EtherType == ethernet.EtherTypeARP && p.UnmarshalBinary(f.Payload) == nil && p.SenderIP == ip
}

// stampedCapture is a packet socket on one interface, for one EtherType,
// with kernel receive timestamps. Reads run on the test's thread.
type stampedCapture struct{ fd int }

func newStampedCapture(t *testing.T, ifname string, et ethernet.EtherType) *stampedCapture {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	proto := int(htons16(uint16(et)))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	return &stampedCapture{fd: fd}
}

// read returns the next frame and its kernel receive time, or
// os.ErrDeadlineExceeded if none is queued within timeout.
func (c *stampedCapture) read(timeout time.Duration) ([]byte, time.Time, error) {
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, time.Time{}, err
	}
	buf, oob := make([]byte, 2048), make([]byte, 128)
	for {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return nil, time.Time{}, os.ErrDeadlineExceeded
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("recvmsg: %w", err)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, time.Time{}, err
		}
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return buf[:n], time.Unix(ts.Unix()), nil
			}
		}
		return nil, time.Time{}, errors.New("frame without a receive timestamp")
	}
}

// stats is the socket's PACKET_STATISTICS (read and reset).
func (c *stampedCapture) stats(t *testing.T) unix.TpacketStats {
	st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		t.Fatal(err)
	}
	return *st
}

func htons16(v uint16) uint16 { return v<<8 | v>>8 }
