package vnfproto

import (
	"bytes"
	"testing"
)

func FuzzDecodeStatus(f *testing.F) {
	f.Add(AppendStatus(nil, 1, sampleStatus()))
	f.Add(AppendRequest(nil, Request{Nonce: 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		nonce, s, err := DecodeStatus(b)
		if err != nil {
			return
		}
		// Re-encoding reproduces the fixed part, except the mbz fields.
		out := AppendStatus(nil, nonce, s)
		if !bytes.Equal(out[8:56], b[8:56]) || !bytes.Equal(out[64:], b[64:StatusLen]) {
			t.Fatalf("re-encode mismatch\n got % x\nwant % x", out, b[:StatusLen])
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
