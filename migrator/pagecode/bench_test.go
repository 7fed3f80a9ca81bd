package pagecode

import (
	"bytes"
	"io"
	"testing"
)

// The encoder's cost per byte of QEMU's stream, by content.
func BenchmarkEncode(b *testing.B) {
	var random, same, big [][]byte
	for i := range 2048 {
		random = append(random, testPage(uint64(i)))
		same = append(same, testPage(uint64(i%16)))
	}
	// Enough windows that ModeAuto stops naming (the 1 GiB random guest).
	for i := range 16384 {
		big = append(big, random[i%len(random)])
	}
	for _, c := range []struct {
		name string
		in   []byte
		mode Mode
	}{
		{"random-auto", qemuStream(random), ModeAuto},
		{"random-auto-64M", qemuStream(big), ModeAuto},
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

// The decoder's cost per byte of QEMU's stream rebuilt, for a random guest
// coded in ModeAuto (mostly raw frames).
func BenchmarkDecode(b *testing.B) {
	var big [][]byte
	for i := range 16384 {
		big = append(big, testPage(uint64(i%2048)))
	}
	in := qemuStream(big)
	var coded bytes.Buffer
	e, _ := NewEncoder(&coded, EncoderConfig{Key: NewKey()}, nil)
	for p := in; len(p) > 0; p = p[min(len(p), 32<<10):] {
		e.Write(p[:min(len(p), 32<<10)])
	}
	e.Close()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(coded.Bytes()), DecoderConfig{}, nil)
		if _, err := d.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
