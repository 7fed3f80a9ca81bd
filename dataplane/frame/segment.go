package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxCaptured is the largest frame the dataplane captures: a GSO frame (a
// TCP stream's segments that the stack, or GRO on the way in, merged into
// one packet of up to 64 KiB) with its Ethernet and VLAN headers. The tc
// hook sees such a frame before the kernel segments it for the tap (a tap
// without a virtio-net header takes no GSO), so a captured copy must be
// segmented before it is injected or flushed (Segment).
const MaxCaptured = 65535 + 22

// ErrNotSegmentable is wrapped by Segment's errors for frames it cannot
// split: not TCP over IPv4, malformed, or a segment size that leaves no room.
var ErrNotSegmentable = errors.New("frame cannot be segmented")

// Segment splits a frame whose IP packet is longer than mtu into frames
// whose IP packets fit it, as the kernel's TCP segmentation would: each
// segment carries the original headers with the IP total length, ID
// (incremented per segment) and checksum, the TCP sequence number and
// flags (FIN and PSH on the last segment only, CWR on the first only) and
// a full TCP checksum of its own. A frame that fits is returned as it is.
// Only TCP over IPv4 (behind up to two VLAN tags) is split: anything else
// that does not fit is an error wrapping ErrNotSegmentable.
func Segment(f []byte, mtu int) ([][]byte, error) {
	l2, ok := l2Len(f)
	if !ok || len(f)-l2 <= mtu {
		return [][]byte{f}, nil
	}
	bad := func(format string, args ...any) ([][]byte, error) {
		return nil, fmt.Errorf("%w: %s", ErrNotSegmentable, fmt.Sprintf(format, args...))
	}
	if binary.BigEndian.Uint16(f[l2-2:]) != 0x0800 {
		return bad("%d-byte frame of EtherType %#04x over an MTU of %d", len(f), binary.BigEndian.Uint16(f[l2-2:]), mtu)
	}
	ip := f[l2:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return bad("not IPv4")
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	switch {
	case ihl < 20 || total < ihl || total > len(ip):
		return bad("IPv4 header length %d, total length %d of %d bytes", ihl, total, len(ip))
	case ip[9] != 6:
		return bad("%d-byte IPv4 packet of protocol %d over an MTU of %d", total, ip[9], mtu)
	case binary.BigEndian.Uint16(ip[6:])&0x3fff != 0:
		return bad("an IPv4 fragment")
	}
	tcp := ip[ihl:total]
	if len(tcp) < 20 {
		return bad("short TCP header")
	}
	thl := int(tcp[12]>>4) * 4
	if thl < 20 || thl > len(tcp) {
		return bad("TCP header length %d", thl)
	}
	mss := mtu - ihl - thl
	if mss < 8 {
		return bad("MTU %d leaves no room for TCP payload", mtu)
	}
	hdr := f[:l2+ihl+thl]
	payload := tcp[thl:]
	id := binary.BigEndian.Uint16(ip[4:])
	seq := binary.BigEndian.Uint32(tcp[4:])
	flags := tcp[13]
	n := (len(payload) + mss - 1) / mss
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		chunk := payload[i*mss : min((i+1)*mss, len(payload))]
		s := make([]byte, len(hdr)+len(chunk))
		copy(s, hdr)
		copy(s[len(hdr):], chunk)
		sip := s[l2:]
		binary.BigEndian.PutUint16(sip[2:], uint16(ihl+thl+len(chunk)))
		binary.BigEndian.PutUint16(sip[4:], id+uint16(i))
		binary.BigEndian.PutUint16(sip[10:], 0)
		binary.BigEndian.PutUint16(sip[10:], ^fold(sum16(sip[:ihl])))
		st := sip[ihl:]
		binary.BigEndian.PutUint32(st[4:], seq+uint32(i*mss))
		fl := flags
		if i > 0 {
			fl &^= 0x80 // CWR
		}
		if i < n-1 {
			fl &^= 0x01 | 0x08 // FIN, PSH
		}
		st[13] = fl
		binary.BigEndian.PutUint16(st[16:], 0)
		pseudo := sum16(sip[12:20]) + 6 + uint32(len(st))
		binary.BigEndian.PutUint16(st[16:], ^fold(pseudo+sum16(st)))
		out = append(out, s)
	}
	return out, nil
}

// l2Len is the length of f's Ethernet header with up to two VLAN tags
// (its EtherType last); ok is false for a frame too short to have one.
func l2Len(f []byte) (int, bool) {
	if len(f) < 14 {
		return 0, false
	}
	off := 12
	eth := binary.BigEndian.Uint16(f[off:])
	for i := 0; i < 2 && (eth == 0x8100 || eth == 0x88a8) && len(f) >= off+6; i++ {
		off += 4
		eth = binary.BigEndian.Uint16(f[off:])
	}
	return off + 2, true
}
