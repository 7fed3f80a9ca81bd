package wsreport

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Garbage, a torn report and a bad header cost the reports they hit,
// never the ones after.
func TestScannerResyncs(t *testing.T) {
	r1, r2, r3 := sample(), sample(), sample()
	r2.Seq, r3.Seq = 8, 9
	var s []byte
	s = append(s, "junk N NF NFW"...)
	s, _ = Encode(s, r1)
	torn := mustEncode(t, r2)
	s = append(s, torn[:HeaderLen+5]...) // a write cut short
	s = append(s, mustEncode(t, Report{Seq: 100})...)
	bad := mustEncode(t, r2)
	bad[5] = 9 // version
	s = append(s, bad...)
	s, _ = Encode(s, r3)

	sc := NewScanner(bytes.NewReader(s))
	var seqs []uint64
	malformed := 0
	for {
		r, err := sc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrMalformed) {
			malformed++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.Seq)
	}
	// The torn report swallows the next one; the bad header only itself.
	if len(seqs) != 2 || seqs[0] != 7 || seqs[1] != 9 || malformed < 3 {
		t.Errorf("got seqs %v with %d malformed, want [7 9] and >= 3", seqs, malformed)
	}
}

func TestScannerGarbageOnly(t *testing.T) {
	sc := NewScanner(bytes.NewReader(bytes.Repeat([]byte("NFWx"), 100<<10)))
	n := 0
	for {
		_, err := sc.Next()
		if !errors.Is(err, ErrMalformed) {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n < 6 {
		t.Errorf("%d garbage errors for 400 KiB, want one per 64 KiB", n)
	}
}
