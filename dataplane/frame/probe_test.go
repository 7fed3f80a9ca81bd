package frame

import (
	"bytes"
	"net"
	"testing"
)

func TestProbe(t *testing.T) {
	dst := net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	f := Probe(dst)
	if len(f) != 60 {
		t.Fatalf("probe is %d bytes, want 60", len(f))
	}
	if !bytes.Equal(f[0:6], dst) || f[12] != 0x88 || f[13] != 0xb5 {
		t.Errorf("probe header % x", f[:14])
	}
	if f[6]&1 != 0 || f[6]&2 == 0 {
		t.Errorf("source %v is not a locally administered unicast MAC", net.HardwareAddr(f[6:12]))
	}
	if !IsProbe(f) {
		t.Error("IsProbe(Probe) = false")
	}
	if !IsProbe(Probe(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})) {
		t.Error("broadcast probe not recognised")
	}
}

func TestIsProbeRejects(t *testing.T) {
	good := Probe(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	mut := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for name, f := range map[string][]byte{
		"nil":        nil,
		"header":     good[:14],
		"short":      good[:28],
		"ethertype":  mut(13, 0xb6),
		"ipv4":       mut(12, 0x08),
		"magic":      mut(14, 'N'),
		"magic tail": mut(28, 'X'),
	} {
		if IsProbe(f) {
			t.Errorf("%s: IsProbe = true", name)
		}
	}
	if !IsProbe(good[:29]) {
		t.Error("probe without padding not recognised")
	}
}
