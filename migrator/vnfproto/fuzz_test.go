package vnfproto

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzDecodeStatus(f *testing.F) {
	full := AppendStatus(nil, 1, sampleStatus())
	f.Add(full)
	f.Add(full[:StatusMinLen]) // a vnf from before the drop counters
	f.Add(full[:StatusMinLen+8])
	f.Add(AppendStatus(nil, 2, Status{UDPRcvbufErrors: 550, Reported: HasUDPInErrors | HasUDPRcvbufErrors}))
	f.Add(AppendRequest(nil, Request{Nonce: 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		nonce, s, err := DecodeStatus(b)
		if err != nil {
			return
		}
		if len(b) < StatusLen && s.Reported != 0 {
			t.Fatalf("%d-byte reply reports counters %#x", len(b), s.Reported)
		}
		for _, d := range s.drops() {
			if *d.v != 0 && s.Reported&d.bit == 0 {
				t.Fatalf("counter %#x = %d accepted without its bit", d.bit, *d.v)
			}
		}
		// Only the old and the current length (plus trailing bytes) pass.
		n := min(len(b), StatusLen)
		if n != StatusMinLen && n != StatusLen {
			t.Fatalf("accepted a %d-byte reply", len(b))
		}
		// Re-encoding reproduces what was decoded, except the mbz fields
		// and unknown reported bits.
		out := AppendStatus(nil, nonce, s)
		end := min(n, 144)
		if !bytes.Equal(out[8:56], b[8:56]) || !bytes.Equal(out[64:end], b[64:end]) {
			t.Fatalf("re-encode mismatch\n got % x\nwant % x", out[:end], b[:end])
		}
		if n == StatusLen && Counters(binary.BigEndian.Uint32(b[144:]))&allCounters != s.Reported {
			t.Fatalf("reported %#x from % x", s.Reported, b[144:148])
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(AppendRequest(nil, Request{Nonce: 1}))
	f.Add(AppendStatus(nil, 1, sampleStatus()))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		if out := AppendRequest(nil, r); !bytes.Equal(out[8:], b[8:RequestLen]) {
			t.Fatalf("re-encode mismatch")
		}
		reply, err := Answer(nil, b, sampleStatus)
		if err != nil {
			t.Fatal(err)
		}
		if n, _, err := DecodeStatus(reply); err != nil || n != r.Nonce {
			t.Fatalf("answer: nonce %d, %v", n, err)
		}
	})
}
