package frame

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// udpFrame builds an Ethernet/IPv4/UDP frame with a correct checksum.
func udpFrame(payload []byte, vlan bool) []byte {
	var f []byte
	f = append(f, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2)
	if vlan {
		f = append(f, 0x81, 0x00, 0x00, 0x05)
	}
	f = append(f, 0x08, 0x00)
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 100}
	l4len := 8 + len(payload)
	binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len))
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum16(ip)))
	udp := []byte{0x9c, 0x40, 0x03, 0x5e, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(udp[4:], uint16(l4len))
	udp = append(udp, payload...)
	pseudo := sum16(ip[12:20]) + 17 + uint32(l4len)
	c := ^fold(pseudo + sum16(udp))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return append(append(f, ip...), udp...)
}

// partial turns a frame's UDP checksum into what a CHECKSUM_PARTIAL skb
// carries: the folded pseudo-header sum.
func partial(f []byte, ipOff int) []byte {
	p := bytes.Clone(f)
	ip := p[ipOff:]
	l4len := int(binary.BigEndian.Uint16(ip[2:])) - 20
	binary.BigEndian.PutUint16(ip[20+6:], fold(sum16(ip[12:20])+17+uint32(l4len)))
	return p
}

func TestCompleteChecksum(t *testing.T) {
	for _, vlan := range []bool{false, true} {
		ipOff := 14
		if vlan {
			ipOff = 18
		}
		for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{0xab}, 41), bytes.Repeat([]byte{0xff}, 1400)} {
			good := udpFrame(payload, vlan)
			p := partial(good, ipOff)
			if !CompleteChecksum(p) || !bytes.Equal(p, good) {
				t.Errorf("vlan %v, %d bytes: partial checksum not completed to the right one", vlan, len(payload))
			}
			same := bytes.Clone(good)
			if CompleteChecksum(same) || !bytes.Equal(same, good) {
				t.Errorf("vlan %v, %d bytes: a right checksum was changed", vlan, len(payload))
			}
			bad := bytes.Clone(good)
			bad[len(bad)-1] ^= 0x55
			if len(payload) > 0 && (CompleteChecksum(bad) || bad[len(bad)-1] == good[len(good)-1]) {
				t.Errorf("vlan %v, %d bytes: a corrupt frame was repaired", vlan, len(payload))
			}
		}
	}
}

func TestCompleteChecksumLeavesOthersAlone(t *testing.T) {
	frag := partial(udpFrame([]byte("frag"), false), 14)
	frag[14+6] |= 0x20 // MF
	zero := udpFrame([]byte("nocsum"), false)
	zero[14+20+6], zero[14+20+7] = 0, 0
	arp := append(make([]byte, 12), 0x08, 0x06)
	arp = append(arp, make([]byte, 28)...)
	short := udpFrame(nil, false)[:14+10]
	for name, f := range map[string][]byte{"fragment": frag, "udp without checksum": zero, "arp": arp, "truncated ipv4": short, "ethernet header only": make([]byte, 14)} {
		before := bytes.Clone(f)
		if CompleteChecksum(f) || !bytes.Equal(f, before) {
			t.Errorf("%s: changed", name)
		}
	}
}

func FuzzCompleteChecksum(f *testing.F) {
	f.Add(partial(udpFrame([]byte("seed"), false), 14))
	f.Add(udpFrame([]byte("seed"), true))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 14 {
			return
		}
		c := bytes.Clone(b)
		if CompleteChecksum(c) && CompleteChecksum(c) {
			t.Fatal("a completed checksum was completed again")
		}
		if len(c) != len(b) {
			t.Fatal("length changed")
		}
	})
}
