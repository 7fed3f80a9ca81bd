package pagecode

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Whatever the link delivers, the decoder fails with one of its errors or
// rebuilds a stream; it never panics nor holds more than the store it
// agreed to.
func FuzzDecoder(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input it finds
	// interesting, and a large one costs it minutes. A page of one byte
	// repeated compresses to a few bytes.
	key := Key{1}
	flat := bytes.Repeat([]byte{'a'}, PageSize)
	flat2 := bytes.Clone(flat)
	flat2[8] = 'b'
	for _, in := range [][]byte{
		qemuStream([][]byte{flat, flat, nil}, [][]byte{flat2}), // zstd, ref, zero, delta
		qemuStream([][]byte{nil}),
	} {
		var link bytes.Buffer
		e, _ := NewEncoder(&link, EncoderConfig{Key: key, Slots: minSlots, Mode: ModeAlways}, nil)
		e.Write(in)
		e.Close()
		f.Add(link.Bytes())
	}
	f.Fuzz(func(t *testing.T, link []byte) {
		d := NewDecoder(bytes.NewReader(link), DecoderConfig{MaxSlots: 64}, nil)
		_, err := d.WriteTo(io.Discard)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMismatch) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("error %v is none of the decoder's", err)
		}
	})
}

// Whatever QEMU writes (a stream the reader follows or not), cut
// anywhere, the destination gets exactly those bytes.
func FuzzEncoder(f *testing.F) {
	f.Add(qemuStream([][]byte{bytes.Repeat([]byte{'a'}, PageSize)}), uint16(100), false)
	f.Add([]byte("QEVM\x00\x00\x00\x03"), uint16(3), true)
	f.Fuzz(func(t *testing.T, in []byte, chunk uint16, always bool) {
		cfg := EncoderConfig{Key: Key{2}, Slots: minSlots}
		if always {
			cfg.Mode = ModeAlways
		}
		roundTrip(t, in, int(chunk)%4096+1, cfg)
	})
}
