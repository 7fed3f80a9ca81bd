package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// tcpFrame is an Ethernet/IPv4/TCP frame (12 bytes of TCP options) with
// payload, flags and a valid checksum, as a GSO frame looks once its
// checksum is complete.
func tcpFrame(payload []byte, flags byte) []byte {
	const ihl, thl = 20, 32
	f := make([]byte, 14+ihl+thl+len(payload))
	copy(f[0:], []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(ihl+thl+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], 0x1000)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	copy(ip[12:], []byte{198, 18, 0, 2, 198, 19, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip[:ihl])))
	tcp := ip[ihl:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 0xfffff000) // wraps within the frame
	tcp[12], tcp[13] = byte(thl/4)<<4, flags
	copy(tcp[20:], []byte{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8})
	copy(tcp[thl:], payload)
	pseudo := sum16(ip[12:20]) + 6 + uint32(thl+len(payload))
	binary.BigEndian.PutUint16(tcp[16:], ^fold(pseudo+sum16(tcp[:thl+len(payload)])))
	return f
}

// validTCP reports whether s's IPv4 and TCP checksums are right.
func validTCP(s []byte) bool {
	ip := s[14:]
	total := int(binary.BigEndian.Uint16(ip[2:]))
	return fold(sum16(ip[:20])) == 0xffff && fold(sum16(ip[12:20])+6+uint32(total-20)+sum16(ip[20:total])) == 0xffff
}

func TestSegment(t *testing.T) {
	payload := make([]byte, 4000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	f := tcpFrame(payload, 0x80|0x10|0x08|0x01) // CWR ACK PSH FIN
	segs, err := Segment(f, 1500)
	if err != nil {
		t.Fatal(err)
	}
	const mss = 1500 - 20 - 32
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	var got []byte
	for i, s := range segs {
		ip := s[14:]
		tcp := ip[20:]
		if len(s)-14 > 1500 || !validTCP(s) {
			t.Errorf("segment %d: %d bytes, checksums valid %v", i, len(s), validTCP(s))
		}
		if id := binary.BigEndian.Uint16(ip[4:]); id != 0x1000+uint16(i) {
			t.Errorf("segment %d: IP id %#x", i, id)
		}
		if seq := binary.BigEndian.Uint32(tcp[4:]); seq != 0xfffff000+uint32(i*mss) {
			t.Errorf("segment %d: seq %#x", i, seq)
		}
		want := byte(0x10)
		if i == 0 {
			want |= 0x80
		}
		if i == 2 {
			want |= 0x08 | 0x01
		}
		if tcp[13] != want {
			t.Errorf("segment %d: flags %#x, want %#x", i, tcp[13], want)
		}
		if !bytes.Equal(tcp[20:32], f[14+40:14+52]) {
			t.Errorf("segment %d: options not copied", i)
		}
		got = append(got, tcp[32:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("payload not split in order")
	}

	small := tcpFrame(payload[:100], 0x18)
	if segs, err := Segment(small, 1500); err != nil || len(segs) != 1 || &segs[0][0] != &small[0] {
		t.Errorf("a frame that fits: %d segments, %v", len(segs), err)
	}
	udp := append([]byte(nil), f...)
	udp[14+9] = 17
	long := append([]byte(nil), f...)
	binary.BigEndian.PutUint16(long[14+2:], 65000) // longer than the frame
	for name, bad := range map[string][]byte{"udp": udp, "total length": long, "ipv6": append(append([]byte(nil), f[:12]...), append([]byte{0x86, 0xdd}, f[14:]...)...)} {
		if _, err := Segment(bad, 1500); !errors.Is(err, ErrNotSegmentable) {
			t.Errorf("%s: err %v, want ErrNotSegmentable", name, err)
		}
	}
	if _, err := Segment(f, 50); !errors.Is(err, ErrNotSegmentable) {
		t.Errorf("an MTU without room: %v", err)
	}
}

func FuzzSegment(f *testing.F) {
	f.Add(tcpFrame(make([]byte, 3000), 0x18), 1500)
	f.Add(tcpFrame(make([]byte, 10), 0x18), 60)
	f.Fuzz(func(t *testing.T, b []byte, mtu int) {
		if mtu < 0 || mtu > 65535 {
			return
		}
		segs, err := Segment(b, mtu)
		if err != nil {
			if !errors.Is(err, ErrNotSegmentable) {
				t.Fatalf("error %v does not wrap ErrNotSegmentable", err)
			}
			return
		}
		if len(segs) == 1 {
			return // returned as it is
		}
		for i, s := range segs {
			l2, _ := l2Len(s)
			if len(s)-l2 > mtu {
				t.Fatalf("segment %d of %d: %d bytes of IP over an MTU of %d", i, len(segs), len(s)-l2, mtu)
			}
		}
	})
}
