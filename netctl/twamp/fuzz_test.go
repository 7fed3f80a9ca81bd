package twamp

import (
	"bytes"
	"testing"
)

func FuzzDecodeSender(f *testing.F) {
	f.Add(AppendSender(nil, SenderPacket{Seq: 1, Timestamp: 2, ErrorEstimate: 3, Padding: make([]byte, 27)}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := DecodeSender(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendSender(nil, sp), b) {
			t.Fatal("sender re-encode mismatch")
		}
		out, err := Reflect(nil, b, 7, 8, 9, DefaultErrorEstimate, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != max(len(b), ReflectorHeaderLen) {
			t.Fatalf("reply %d octets for %d", len(out), len(b))
		}
		rp, err := DecodeReflector(out)
		if err != nil || rp.SenderSeq != sp.Seq || rp.SenderTimestamp != sp.Timestamp {
			t.Fatalf("reflect: %+v %v", rp, err)
		}
	})
}

func FuzzDecodeReflector(f *testing.F) {
	f.Add(AppendReflector(nil, ReflectorPacket{Seq: 1, SenderTTL: 255, Padding: []byte{1}}))
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		rp, err := DecodeReflector(b)
		if err != nil {
			return
		}
		out := AppendReflector(nil, rp)
		// Equal except for the MBZ fields, which the decoder ignores.
		for _, r := range [][2]int{{0, 14}, {16, 38}, {40, len(b)}} {
			if !bytes.Equal(out[r[0]:r[1]], b[r[0]:r[1]]) {
				t.Fatalf("re-encode mismatch in [%d:%d]", r[0], r[1])
			}
		}
		_ = rp.RoundTrip(rp.Timestamp)
		_ = rp.ErrorEstimate.Duration()
		_ = rp.SenderTimestamp.Time()
	})
}
