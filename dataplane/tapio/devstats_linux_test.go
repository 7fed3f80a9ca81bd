package tapio

import (
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
	"github.com/vishvananda/netlink"
)

// Helpers for the packet I/O tests. The test's goroutine is locked to its
// thread and moved into a fresh named netns (dpt-io-*) until the test ends
// (privtest.EnterNetns): every socket, tap and link of the test is created
// on that thread. Other goroutines only use descriptors, which are
// netns-independent. No subtests (they would run on other threads).

func ioEnterNetns(t *testing.T) { privtest.EnterNetns(t, "dpt-io") }

// ioTap creates tap name (IFF_TAP|IFF_NO_PI, not persistent) with queue
// length qlen, IPv6 off (no router solicitations in its queue), up, and
// returns its non-blocking, poller-backed descriptor.
func ioTap(t *testing.T, name string, qlen int) *os.File {
	t.Helper()
	f := privtest.OpenTap(t, name, true)
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0); err != nil {
		t.Logf("disabling IPv6 on %s: %v", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetTxQLen(link, qlen); err != nil {
		t.Fatal(err)
	}
	privtest.LinkUp(t, name, "")
	return f
}

// ioFrame is a test frame to dst carrying seq (EtherType 0x88B6, IEEE local
// experimental 2, so never a probe).
func ioFrame(dst net.HardwareAddr, seq uint32, size int) []byte {
	f := make([]byte, max(size, 60))
	copy(f, dst)
	copy(f[6:], net.HardwareAddr{0x02, 'd', 'p', 't', 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x88B6)
	binary.BigEndian.PutUint32(f[14:], seq)
	return f
}

// ioSeq returns the seq of a test frame, false for any other frame.
func ioSeq(f []byte) (uint32, bool) {
	if len(f) < 18 || binary.BigEndian.Uint16(f[12:]) != 0x88B6 {
		return 0, false
	}
	return binary.BigEndian.Uint32(f[14:]), true
}

// ioReadTap reads the next test frame from the tap, skipping other frames,
// waiting at most d.
func ioReadTap(t *testing.T, f *os.File, d time.Duration) ([]byte, bool) {
	t.Helper()
	buf := make([]byte, 65536)
	f.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := f.Read(buf)
		if err != nil {
			return nil, false
		}
		if _, ok := ioSeq(buf[:n]); ok {
			return append([]byte(nil), buf[:n]...), true
		}
	}
}

var ioVMMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0xd7, 0x10, 0x01}

func TestPrivDevStats(t *testing.T) {
	ioEnterNetns(t)
	tap := ioTap(t, "dptio0", 77)
	dc, err := DevStats("dptio0")
	if err != nil {
		t.Fatal(err)
	}
	if dc.TxQueueLen != 77 {
		t.Errorf("TxQueueLen %d, want 77", dc.TxQueueLen)
	}
	// Three frames from "the guest" (written to the tap) count as received.
	for i := range 3 {
		if _, err := tap.Write(ioFrame(net.HardwareAddr{2, 0, 0, 0, 0, 9}, uint32(i), 60)); err != nil {
			t.Fatal(err)
		}
	}
	dc2, err := DevStats("dptio0")
	if err != nil {
		t.Fatal(err)
	}
	if dc2.RxPackets-dc.RxPackets != 3 {
		t.Errorf("RxPackets +%d, want +3", dc2.RxPackets-dc.RxPackets)
	}
	if _, err := DevStats("dptnone"); err == nil {
		t.Error("DevStats of a missing device succeeded")
	}
}
