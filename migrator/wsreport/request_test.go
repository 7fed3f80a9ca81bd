package wsreport

import (
	"bytes"
	"testing"
)

func TestLastRequest(t *testing.T) {
	req := func(ids ...uint32) []byte {
		var b []byte
		for _, id := range ids {
			b = AppendRequest(b, id)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		id   uint32
		ok   bool
		tail []byte
	}{
		{"none", nil, 0, false, nil},
		{"one", req(7), 7, true, nil},
		{"last wins", req(1, 2, 3), 3, true, nil},
		{"garbage around", append(append([]byte("xxNF"), req(9)...), "zzNFW"...), 9, true, []byte("NFW")},
		{"torn", req(5)[:6], 0, false, req(5)[:6]},
		{"whole then torn", append(req(4), req(5)[:3]...), 4, true, req(5)[:3]},
		{"garbage only", []byte("garbage!"), 0, false, []byte{}},
	} {
		id, ok, tail := LastRequest(tc.in)
		if id != tc.id || ok != tc.ok || !bytes.Equal(tail, tc.tail) {
			t.Errorf("%s: got %d %v %q, want %d %v %q", tc.name, id, ok, tail, tc.id, tc.ok, tc.tail)
		}
	}
}

// Requests split anywhere across reads are all found.
func TestLastRequestSplit(t *testing.T) {
	b := append([]byte("junkNFWQ"), AppendRequest(AppendRequest(nil, 1), 2)...)
	for cut := range len(b) + 1 {
		var carry []byte
		var got []uint32
		for _, part := range [][]byte{b[:cut], b[cut:]} {
			id, ok, tail := LastRequest(append(carry, part...))
			if ok {
				got = append(got, id)
			}
			carry = append([]byte(nil), tail...)
		}
		if len(got) == 0 || got[len(got)-1] != 2 {
			t.Errorf("cut at %d: got %v, want the last to be 2", cut, got)
		}
	}
}

func FuzzLastRequest(f *testing.F) {
	f.Add(AppendRequest([]byte("NFW"), 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ok, tail := LastRequest(b)
		if len(tail) >= RequestLen {
			t.Fatalf("tail of %d bytes", len(tail))
		}
		if ok && !bytes.Contains(b, AppendRequest(nil, id)) {
			t.Fatalf("id %d not in the input", id)
		}
		if !bytes.HasSuffix(b, tail) {
			t.Fatal("tail is not the input's end")
		}
	})
}
