package wsreport

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
	"time"
)

func sample() Report {
	return Report{Seq: 7, Uptime: 3 * time.Second, Flags: Truncated, Hot: 2,
		Ranges: []Range{{0x100, 16}, {0x2000, 1}, {0x50, 3}}}
}

func mustEncode(t testing.TB, r Report) []byte {
	t.Helper()
	b, err := Encode(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reseal recomputes the checksum of a hand-edited report.
func reseal(b []byte) []byte {
	binary.BigEndian.PutUint32(b[12:], 0)
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(b, castagnoli))
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, r := range []Report{sample(), {Seq: 1}, {Ranges: []Range{{MaxFrame - 1, 1}}, Hot: 1}} {
		b := mustEncode(t, r)
		if len(b) != HeaderLen+RangeLen*len(r.Ranges) {
			t.Errorf("%d bytes for %d ranges", len(b), len(r.Ranges))
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Ranges) == 0 {
			got.Ranges = r.Ranges // nil and empty alike
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip: %+v, want %+v", got, r)
		}
	}
	if p := sample().Pages(); p != 20 {
		t.Errorf("Pages = %d, want 20", p)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := mustEncode(t, sample())
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	set32 := func(off int, v uint32) []byte {
		return edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return reseal(b) })
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrLength},
		{"short header", good[:HeaderLen-1], ErrLength},
		{"magic", edit(func(b []byte) []byte { b[0] = 'X'; return reseal(b) }), ErrMagic},
		{"version", edit(func(b []byte) []byte { b[5] = 2; return reseal(b) }), ErrVersion},
		{"truncated", good[:len(good)-1], ErrLength},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrLength},
		{"checksum", edit(func(b []byte) []byte { b[len(b)-1]++; return b }), ErrChecksum},
		{"length vs ranges", set32(8, uint32(len(good)+RangeLen)), ErrLength},
		{"huge length", set32(8, 1<<31), ErrTooLarge},
		{"too many ranges", set32(32, MaxRanges+1), ErrTooLarge},
		{"ranges overflow the length", set32(32, 1<<31), ErrTooLarge},
		{"hot above ranges", set32(36, 4), ErrLength},
		{"empty range", set32(HeaderLen+8, 0), ErrRange},
		{"range beyond MaxFrame", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[HeaderLen:], MaxFrame-1)
			return reseal(b)
		}), ErrRange},
		{"start overflows", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[HeaderLen:], ^uint64(0))
			return reseal(b)
		}), ErrRange},
	} {
		_, err := Decode(tc.b)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, r := range []Report{
		{Ranges: make([]Range, MaxRanges+1)},
		{Ranges: []Range{{1, 0}}},
		{Ranges: []Range{{MaxFrame, 1}}},
		{Ranges: []Range{{1, 1}}, Hot: 2},
		{Hot: -1},
	} {
		if _, err := Encode(nil, r); !errors.Is(err, ErrMalformed) {
			t.Errorf("Encode(%d ranges, hot %d): err %v, want ErrMalformed", len(r.Ranges), r.Hot, err)
		}
	}
	full := Report{Ranges: make([]Range, MaxRanges), Hot: MaxRanges}
	for i := range full.Ranges {
		full.Ranges[i] = Range{uint64(2 * i), 1}
	}
	if b := mustEncode(t, full); len(b) > MaxReportBytes {
		t.Errorf("a full report is %d bytes, more than MaxReportBytes", len(b))
	}
}
