package wsreport

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func FuzzDecodeReport(f *testing.F) {
	f.Add(mustEncode(f, sample()))
	f.Add(mustEncode(f, Report{}))
	f.Add(mustEncode(f, Report{Ranges: []Range{{0, 1 << 31}, {5, 5}, {5, 5}}, Hot: 3}))
	f.Add([]byte("NFWS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// What decodes re-encodes to the same bytes.
		again, err := Encode(nil, r)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding: %v, equal %v", err, bytes.Equal(again, b))
		}
		checkDisjoint(t, Validate(r, 64<<20), 64<<20)
	})
}

// The scanner takes any stream without panicking or looping.
func FuzzScanReports(f *testing.F) {
	f.Add(append([]byte("xNFWS"), mustEncode(f, sample())...))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := NewScanner(bytes.NewReader(b))
		for i := 0; ; i++ {
			_, err := sc.Next()
			if err != nil && !errors.Is(err, ErrMalformed) {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatal(err)
				}
				return
			}
			if i > len(b) {
				t.Fatalf("more than %d results from %d bytes", i, len(b))
			}
		}
	})
}
