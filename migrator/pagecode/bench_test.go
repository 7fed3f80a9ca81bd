package pagecode

import (
	"io"
	"testing"
)

// The encoder's cost per byte of QEMU's stream, by content.
func BenchmarkEncode(b *testing.B) {
	var random, same [][]byte
	for i := range 2048 {
		random = append(random, testPage(uint64(i)))
		same = append(same, testPage(uint64(i%16)))
	}
	for _, c := range []struct {
		name string
		in   []byte
		mode Mode
	}{
		{"random-auto", qemuStream(random), ModeAuto},
		{"random-always", qemuStream(random), ModeAlways},
		{"repeated", qemuStream(same), ModeAlways},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.in)))
			for b.Loop() {
				e, _ := NewEncoder(io.Discard, EncoderConfig{Key: NewKey(), Mode: c.mode}, nil)
				for p := c.in; len(p) > 0; p = p[min(len(p), 32<<10):] {
					e.Write(p[:min(len(p), 32<<10)])
				}
				e.Close()
			}
		})
	}
}
