package frame

import "encoding/binary"

// CompleteChecksum finishes the L4 checksum of an IPv4 UDP or TCP frame
// captured with a partial one, in place, and reports whether it did.
//
// A frame sent by the local stack with checksum offload (veth, tap and
// bridge all offer it) is CHECKSUM_PARTIAL when the tc egress hook sees it:
// its UDP/TCP checksum field holds only the pseudo-header sum, and the
// kernel completes it later, after the hook (validate_xmit_skb), or hands
// the hint to the reader with a virtio-net header. A captured copy has
// neither, so a frame injected as captured would be dropped by the guest
// as corrupt. The field of a partial frame is the folded pseudo-header
// sum; a frame whose checksum is already right, or wrong in any other way,
// is left alone (a corrupt frame stays corrupt). Fragments, IPv6 and other
// protocols are left alone.
func CompleteChecksum(frame []byte) bool {
	off, ok := l2Len(frame)
	if !ok {
		return false
	}
	if eth := binary.BigEndian.Uint16(frame[off-2:]); eth != 0x0800 || len(frame) < off+20 {
		return false
	}
	ip := frame[off:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // MF or a fragment offset
		return false
	}
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if total < ihl || total > len(ip) {
		return false
	}
	l4 := ip[ihl:total]
	var at int
	switch ip[9] {
	case 17: // UDP
		at = 6
		if len(l4) < 8 || binary.BigEndian.Uint16(l4[at:]) == 0 {
			return false // too short, or no checksum
		}
	case 6: // TCP
		at = 16
		if len(l4) < 20 {
			return false
		}
	default:
		return false
	}
	pseudo := sum16(ip[12:20]) + uint32(ip[9]) + uint32(len(l4))
	field := binary.BigEndian.Uint16(l4[at:])
	if fold(pseudo+sum16(l4)) == 0xffff { // already right
		return false
	}
	if field != fold(pseudo) {
		return false // wrong, but not a partial checksum: leave it
	}
	binary.BigEndian.PutUint16(l4[at:], 0)
	c := ^fold(pseudo + sum16(l4))
	if c == 0 && ip[9] == 17 {
		c = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	return true
}

// sum16 is the 32-bit one's complement accumulation of b's 16-bit words.
func sum16(b []byte) uint32 {
	var s uint32
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold folds a one's complement accumulation to 16 bits.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
