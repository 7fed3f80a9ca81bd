package tapio

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// udpTo returns the UDP payload of an untagged IPv4 frame to port, or nil.
func udpTo(f []byte, port uint16) []byte {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 17 {
		return nil
	}
	ihl := int(f[14]&0x0f) * 4
	l4 := f[14+ihl:]
	if len(l4) < 8 || binary.BigEndian.Uint16(l4[2:]) != port {
		return nil
	}
	return l4[8:binary.BigEndian.Uint16(l4[4:])]
}

// A frame the host's stack sends into a tap with checksum offload (as
// QEMU's vhost-less virtio-net sets it, TUN_F_CSUM) is queued with its UDP
// checksum partial and the hint in the virtio-net header. ReadResidue
// strips the header and must finish the checksum, or the guest that gets
// the frame re-injected drops it.
func TestPrivReadResidueCompletesChecksum(t *testing.T) {
	ioEnterNetns(t)
	const name, port = "dptcs0", 9999
	tap, err := openVnetTap(name)
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	rc, err := tap.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var oerr error
	rc.Control(func(fd uintptr) { oerr = unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, unix.TUN_F_CSUM) })
	if oerr != nil {
		t.Fatalf("TUNSETOFFLOAD: %v", oerr)
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0); err != nil {
		t.Logf("disabling IPv6 on %s: %v", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.99.0.1/24")
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	guest := net.IPv4(10, 99, 0, 2)
	if err := netlink.NeighAdd(&netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V4,
		State: netlink.NUD_PERMANENT, IP: guest, HardwareAddr: ioVMMAC}); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: guest, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, second := bytes.Repeat([]byte("a"), 101), bytes.Repeat([]byte("bc"), 77) // odd and even lengths
	for _, p := range [][]byte{first, second} {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}

	// The first frame read raw, as QEMU would: partial, with the hint.
	hdr := 10 // struct virtio_net_hdr, TUNGETVNETHDRSZ's default
	buf := make([]byte, 65536)
	tap.SetReadDeadline(time.Now().Add(2 * time.Second))
	var raw []byte
	for raw == nil {
		n, err := tap.Read(buf)
		if err != nil {
			t.Fatalf("reading the first frame raw: %v", err)
		}
		if n > hdr && udpTo(buf[hdr:n], port) != nil {
			raw = append([]byte(nil), buf[:n]...)
		}
	}
	tap.SetReadDeadline(time.Time{})
	if raw[0]&unix.VIRTIO_NET_HDR_F_NEEDS_CSUM == 0 {
		t.Fatalf("first frame's virtio-net header %x: no NEEDS_CSUM (the stack finished the checksum: the test shows nothing)", raw[:hdr])
	}
	if l4ChecksumOK(raw[hdr:]) {
		t.Fatal("first frame's checksum verifies though its header says partial")
	}
	if !bytes.Equal(udpTo(raw[hdr:], port), first) {
		t.Fatalf("first frame's payload %q", udpTo(raw[hdr:], port))
	}

	// The second through ReadResidue: the header gone, the checksum done.
	frames, _, err := ReadResidue(tap, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, f := range frames {
		if udpTo(f, port) != nil {
			if got != nil {
				t.Fatalf("two UDP frames in the residue")
			}
			got = f
		}
	}
	if got == nil {
		t.Fatalf("no UDP frame among %d residue frames", len(frames))
	}
	if !bytes.Equal(udpTo(got, port), second) {
		t.Errorf("residue frame's payload %q, want %q (the header not stripped right?)", udpTo(got, port), second)
	}
	if !bytes.Equal(got[:6], ioVMMAC) {
		t.Errorf("residue frame to %x, want %s", got[:6], ioVMMAC)
	}
	if !l4ChecksumOK(got) {
		t.Errorf("residue frame's UDP checksum does not verify: %x", got)
	}
}
