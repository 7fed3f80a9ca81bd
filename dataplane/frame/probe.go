package frame

import (
	"bytes"
	"encoding/binary"
	"net"
)

// Probe frames find out whether QEMU is still reading a stopped guest's tap
// (see the hand-off's held-frame detection): one is injected into the tap
// behind the hook; if QEMU reads it, QEMU holds the probe rather than a real
// frame. Probes never reach a guest's stack in a useful way (an unknown
// EtherType is dropped) and the residue reader discards them.
const (
	// ProbeEtherType is IEEE 802 "local experimental EtherType 1".
	ProbeEtherType = 0x88B5
	probeMagic     = "nfhandoff-probe"
	probeLen       = 60 // minimum Ethernet frame without FCS
)

// probeSource is the probe's source MAC: locally administered, unicast
// ("\x02" + "nfhp").
var probeSource = net.HardwareAddr{0x02, 'n', 'f', 'h', 'p', 0x00}

// Probe returns a 60-byte probe frame to dst.
func Probe(dst net.HardwareAddr) []byte {
	f := make([]byte, probeLen)
	copy(f[0:6], dst)
	copy(f[6:12], probeSource)
	binary.BigEndian.PutUint16(f[12:14], ProbeEtherType)
	copy(f[14:], probeMagic)
	return f
}

// IsProbe reports whether frame is a probe made by Probe (whatever its
// destination).
func IsProbe(frame []byte) bool {
	return len(frame) >= 14+len(probeMagic) &&
		binary.BigEndian.Uint16(frame[12:14]) == ProbeEtherType &&
		bytes.Equal(frame[14:14+len(probeMagic)], []byte(probeMagic))
}
