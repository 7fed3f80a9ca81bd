package kreflect

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

const (
	tcOK       = 0 // TC_ACT_OK: on to the kernel
	tcRedirect = 7 // TC_ACT_REDIRECT: sent back out
)

var (
	senderMAC = []byte{2, 0, 0, 0, 0, 0xc1}
	guestMAC  = []byte{2, 0, 0, 0, 0, 0x01}
	senderIP  = netip.MustParseAddr("198.18.0.1")
	guestIP   = netip.MustParseAddr("198.18.0.10")
)

// testPacket is an Ethernet/IPv4/UDP test packet to guestIP:port carrying
// payload, with a valid UDP checksum unless noCsum.
func testPacket(port uint16, payload []byte, ttl uint8, noCsum bool) []byte {
	f := append(append([]byte{}, guestMAC...), senderMAC...)
	f = append(f, 0x08, 0x00)
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, ttl, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	s, d := senderIP.As4(), guestIP.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], ^csum(0, ip))
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], port)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	if !noCsum {
		binary.BigEndian.PutUint16(udp[6:], udpCsum(ip, udp))
	}
	return append(append(f, ip...), udp...)
}

// csum is the one's complement sum of b (padded with a zero octet) added to sum.
func csum(sum uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// udpCsum is the UDP checksum of udp (its checksum field zero) under ip.
func udpCsum(ip, udp []byte) uint16 {
	pseudo := append(append([]byte{}, ip[12:20]...), 0, 17, byte(len(udp)>>8), byte(len(udp)))
	c := udp[6:8:8]
	saved := [2]byte{c[0], c[1]}
	c[0], c[1] = 0, 0
	sum := ^csum(uint32(csum(0, pseudo)), udp)
	c[0], c[1] = saved[0], saved[1]
	if sum == 0 {
		return 0xffff
	}
	return sum
}

func loaded(t testing.TB) *Reflector {
	t.Helper()
	privtest.RequireRoot(t)
	r := &Reflector{}
	if err := r.load(Config{Port: twamp.Port, Addr: guestIP, ErrorEstimate: uint16(twamp.DefaultErrorEstimate)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.objs.Close() })
	return r
}

func run(t testing.TB, p *ebpf.Program, in []byte) (uint32, []byte) {
	t.Helper()
	out := make([]byte, len(in)+256)
	ret, err := p.Run(&ebpf.RunOptions{Data: in, DataOut: out})
	if err != nil {
		t.Fatalf("running the program: %v", err)
	}
	return ret, out[:len(in)]
}

// A test packet (with and without a UDP checksum, with and without padding
// beyond the reflector's header) comes back as the reflector's answer:
// addresses and ports swapped, TTL 255, valid checksums, the sender's
// fields copied, the sequence counting from 0, the wall clock's time, the
// rest of the padding kept; the program counts it.
func TestPrivKernelReflect(t *testing.T) {
	r := loaded(t)
	for i, tc := range []struct {
		size   int
		noCsum bool
	}{{41, false}, {64, false}, {1000, false}, {42, true}, {63, false}} {
		pad := make([]byte, tc.size-twamp.SenderHeaderLen)
		for j := range pad {
			pad[j] = byte(j*7 + i)
		}
		sent := twamp.NewTimestamp(time.Now())
		payload := twamp.AppendSender(nil, twamp.SenderPacket{Seq: uint32(100 + i), Timestamp: sent, ErrorEstimate: 0x8001, Padding: pad})
		in := testPacket(twamp.Port, payload, 61, tc.noCsum)
		before := time.Now()
		ret, out := run(t, r.objs.TwampReflect, in)
		if ret != tcRedirect {
			t.Fatalf("size %d: verdict %d, want a redirect", tc.size, ret)
		}
		if string(out[0:6]) != string(senderMAC) || string(out[6:12]) != string(guestMAC) {
			t.Errorf("size %d: MACs % x / % x, want swapped", tc.size, out[0:6], out[6:12])
		}
		ip, udp := out[14:34], out[34:]
		if ip[8] != 255 || csum(0, ip) != 0xffff {
			t.Errorf("size %d: TTL %d, IP header checksum invalid (% x)", tc.size, ip[8], ip)
		}
		if netip.AddrFrom4([4]byte(ip[12:16])) != guestIP || netip.AddrFrom4([4]byte(ip[16:20])) != senderIP {
			t.Errorf("size %d: addresses %v -> %v, want swapped", tc.size, ip[12:16], ip[16:20])
		}
		if binary.BigEndian.Uint16(udp[0:]) != twamp.Port || binary.BigEndian.Uint16(udp[2:]) != 40000 {
			t.Errorf("size %d: ports % x, want swapped", tc.size, udp[0:4])
		}
		got := binary.BigEndian.Uint16(udp[6:])
		if tc.noCsum && got != 0 {
			t.Errorf("size %d: checksum %#x, want 0 (the sender sent none)", tc.size, got)
		} else if !tc.noCsum && got != udpCsum(ip, udp) {
			t.Errorf("size %d: UDP checksum %#x, want %#x", tc.size, got, udpCsum(ip, udp))
		}
		rp, err := twamp.DecodeReflector(udp[8:])
		if err != nil {
			t.Fatal(err)
		}
		if rp.Seq != uint32(i) || rp.SenderSeq != uint32(100+i) || rp.SenderTimestamp != sent || rp.SenderErrorEstimate != 0x8001 ||
			rp.SenderTTL != 61 || rp.ErrorEstimate != twamp.DefaultErrorEstimate || rp.ReceiveTimestamp != rp.Timestamp {
			t.Errorf("size %d: answer %+v", tc.size, rp)
		}
		if at := rp.Timestamp.Time(); at.Before(before.Add(-50*time.Millisecond)) || at.After(time.Now().Add(50*time.Millisecond)) {
			t.Errorf("size %d: timestamp %v, want about %v", tc.size, at, before)
		}
		if string(rp.Padding) != string(payload[twamp.ReflectorHeaderLen:]) {
			t.Errorf("size %d: padding changed", tc.size)
		}
	}
	if n := r.Reflected(); n != 5 {
		t.Errorf("reflected %d, want 5", n)
	}
	if s := r.TakeSeq(); s != 5 || r.Seq() != 6 {
		t.Errorf("TakeSeq %d then Seq %d, want 5 then 6", s, r.Seq())
	}
}

// Everything that is not a full-size test packet for the reflector goes on
// to the kernel untouched.
func TestPrivKernelReflectPasses(t *testing.T) {
	r := loaded(t)
	full := twamp.AppendSender(nil, twamp.SenderPacket{Seq: 1, Padding: make([]byte, 50)})
	short := twamp.AppendSender(nil, twamp.SenderPacket{Seq: 1, Padding: make([]byte, 26)})
	other := testPacket(twamp.Port, full, 64, false)
	copy(other[30:34], []byte{198, 18, 0, 99}) // another destination
	frag := testPacket(twamp.Port, full, 64, false)
	frag[20] = 0x20 // more fragments
	opts := testPacket(twamp.Port, full, 64, false)
	opts[14] = 0x46
	bcast := testPacket(twamp.Port, full, 64, false)
	copy(bcast[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	lying := testPacket(twamp.Port, full, 64, false)
	binary.BigEndian.PutUint16(lying[38:], 2000) // UDP length beyond the frame
	for name, in := range map[string][]byte{
		"short payload":  testPacket(twamp.Port, short, 64, false),
		"other port":     testPacket(7, full, 64, false),
		"other address":  other,
		"fragment":       frag,
		"ip options":     opts,
		"broadcast":      bcast,
		"udp length":     lying,
		"truncated":      testPacket(twamp.Port, full, 64, false)[:50],
		"not ipv4 (arp)": append(append(append([]byte{}, guestMAC...), senderMAC...), append([]byte{0x08, 0x06}, make([]byte, 46)...)...),
	} {
		ret, out := run(t, r.objs.TwampReflect, in)
		if ret != tcOK || string(out) != string(in) {
			t.Errorf("%s: verdict %d (frame changed: %v), want TC_ACT_OK untouched", name, ret, string(out) != string(in))
		}
	}
	if n, s := r.Reflected(), r.Seq(); n != 0 || s != 0 {
		t.Errorf("reflected %d, seq %d: want 0, 0", n, s)
	}
}

// Whatever arrives, the program either leaves the frame untouched for the
// kernel or answers a well-formed test packet with valid checksums and a
// reflector header (root: it runs the real program).
func FuzzKernelReflect(f *testing.F) {
	full := twamp.AppendSender(nil, twamp.SenderPacket{Seq: 1, Padding: make([]byte, 50)})
	f.Add(testPacket(twamp.Port, full, 64, false))
	f.Add(testPacket(twamp.Port, full[:30], 64, false))
	f.Add(testPacket(twamp.Port, full, 64, true)[:60])
	r := loaded(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 14 { // test_run wants an Ethernet header at least
			return
		}
		out := make([]byte, len(in)+256)
		ret, err := r.objs.TwampReflect.Run(&ebpf.RunOptions{Data: in, DataOut: out})
		if err != nil {
			return // a frame the kernel's test run refuses (e.g. larger than a page)
		}
		out = out[:len(in)]
		switch ret {
		case tcOK:
			if string(out) != string(in) {
				t.Fatalf("passed a changed frame:\n% x\n% x", in, out)
			}
		case tcRedirect:
			ip := out[14:34]
			ulen := int(binary.BigEndian.Uint16(out[38:]))
			udp := out[34 : 34+ulen]
			if csum(0, ip) != 0xffff || ip[8] != 255 {
				t.Fatalf("answer's IP header % x", ip)
			}
			// A checksum is updated, not recomputed (as a router would):
			// a valid one stays valid, a wrong one stays wrong.
			inIP, inUDP := in[14:34], in[34:34+ulen]
			inValid := binary.BigEndian.Uint16(inUDP[6:]) == udpCsum(inIP, inUDP)
			if c := binary.BigEndian.Uint16(udp[6:]); c != 0 && inValid && c != udpCsum(ip, udp) {
				t.Fatalf("answer's UDP checksum %#x, want %#x", c, udpCsum(ip, udp))
			}
			if _, err := twamp.DecodeReflector(udp[8:]); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("verdict %d", ret)
		}
	})
}
