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
	f.Add(full[:StatusDropsLen]) // a vnf from before the router fields
	f.Add(full[:StatusDropsLen+8])
	f.Add(AppendStatus(nil, 2, Status{UDPRcvbufErrors: 550, Reported: HasUDPInErrors | HasUDPRcvbufErrors}))
	f.Add(AppendStatus(nil, 3, Status{Router: Router{Flags: RouterRole, Failed: StepRuleset}}))
	f.Add(AppendStatus(nil, 4, Status{Router: Router{Flags: RouterRole | RouterUp | HasConntrack, ConntrackEntries: 2}}))
	f.Add(AppendRequest(nil, Request{Nonce: 1}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		nonce, s, err := DecodeStatus(b)
		if err != nil {
			return
		}
		if len(b) < StatusDropsLen && s.Reported != 0 {
			t.Fatalf("%d-byte reply reports counters %#x", len(b), s.Reported)
		}
		if len(b) < StatusLen && s.Router != (Router{}) {
			t.Fatalf("%d-byte reply reports a router %+v", len(b), s.Router)
		}
		for _, d := range s.drops() {
			if *d.v != 0 && s.Reported&d.bit == 0 {
				t.Fatalf("counter %#x = %d accepted without its bit", d.bit, *d.v)
			}
		}
		r := s.Router
		if r.Flags&RouterRole == 0 && r != (Router{}) {
			t.Fatalf("router state %+v accepted without the role", r)
		}
		if r.Flags&RouterUp != 0 && r.Failed != StepNone {
			t.Fatalf("router up and failed at %v", r.Failed)
		}
		// Only the old lengths and the current one (plus trailing bytes) pass.
		n := min(len(b), StatusLen)
		if n != StatusMinLen && n != StatusDropsLen && n != StatusLen {
			t.Fatalf("accepted a %d-byte reply", len(b))
		}
		// Re-encoding reproduces what was decoded, except the mbz fields
		// and unknown reported and router bits.
		out := AppendStatus(nil, nonce, s)
		end := min(n, 144)
		if !bytes.Equal(out[8:56], b[8:56]) || !bytes.Equal(out[64:end], b[64:end]) {
			t.Fatalf("re-encode mismatch\n got % x\nwant % x", out[:end], b[:end])
		}
		if n >= StatusDropsLen && Counters(binary.BigEndian.Uint32(b[144:]))&allCounters != s.Reported {
			t.Fatalf("reported %#x from % x", s.Reported, b[144:148])
		}
		if n == StatusLen {
			if RouterFlags(binary.BigEndian.Uint32(b[152:]))&allRouterFlags != r.Flags {
				t.Fatalf("router flags %#x from % x", r.Flags, b[152:156])
			}
			if !bytes.Equal(out[156:StatusLen], b[156:StatusLen]) {
				t.Fatalf("router re-encode mismatch\n got % x\nwant % x", out[156:StatusLen], b[156:StatusLen])
			}
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
