package stream

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzWriter is what both readers offer.
type fuzzWriter interface {
	Write([]byte) (int, error)
	Close() error
	Summary() Summary
}

// checkFuzz feeds data in two writes cut at cut through a lenient and a
// strict reader made by mk, and checks the properties every input must
// keep: the lenient reader forwards exactly the input, reports only
// errors wrapping ErrMalformed and holds no more than one record; the
// strict one forwards exactly the input before its error.
func checkFuzz(t *testing.T, data []byte, cut uint16, mk func(dst *bytes.Buffer, v Visitor, opts ...Option) fuzzWriter) {
	c := int(cut) % (len(data) + 1)
	var dst bytes.Buffer
	pages := 0
	v := Funcs{OnPage: func(p Page) {
		pages++
		if n := len(p.Header) + len(p.Data); n > maxRecord || (!p.Zero && len(p.Data) != PageSize) {
			t.Fatalf("page record of %d bytes (data %d)", n, len(p.Data))
		}
	}}
	w := mk(&dst, v)
	for _, part := range [][]byte{data[:c], data[c:]} {
		if n, err := w.Write(part); err != nil || n != len(part) {
			t.Fatalf("lenient Write = %d, %v", n, err)
		}
		if held := int(w.Summary().Bytes) - dst.Len(); held > maxRecord {
			t.Fatalf("%d bytes held", held)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sum := w.Summary()
	if !bytes.Equal(dst.Bytes(), data) {
		t.Fatal("output differs from input")
	}
	if sum.Err != nil && !errors.Is(sum.Err, ErrMalformed) {
		t.Fatalf("error %v does not wrap ErrMalformed", sum.Err)
	}
	// Before RAM's END an error must say why page coding stopped; after
	// it, a stream cut short is only noted (Err): every page was seen.
	if sum.Err != nil && sum.Opaque == "" && sum.Refused == "" && !sum.RAMDone {
		t.Fatalf("error %v without a reason", sum.Err)
	}
	if int64(pages) != sum.Pages+sum.ZeroPages {
		t.Fatalf("%d pages visited, summary %d+%d", pages, sum.Pages, sum.ZeroPages)
	}

	var sdst bytes.Buffer
	s := mk(&sdst, nil, Strict())
	total := 0
	var err error
	for _, part := range [][]byte{data[:c], data[c:]} {
		var n int
		n, err = s.Write(part)
		total += n
		if err != nil {
			break
		}
	}
	if err == nil {
		err = s.Close()
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("strict error %v does not wrap ErrMalformed", err)
	}
	if !bytes.Equal(sdst.Bytes(), data[:total]) {
		t.Fatalf("strict: dst holds %d bytes, not the %d accepted", sdst.Len(), total)
	}
}

func FuzzWriter(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input it finds interesting,
	// and a 20 KiB one costs it minutes.
	f.Add(smallStream(true), uint16(100))
	f.Add(smallStream(false), uint16(60))
	e := ramPrefix("x-ignore-shared")
	e.U64(0x1000 | flagXBZRLE)
	f.Add(e.Bytes(), uint16(17))
	f.Add([]byte("QEVM\x00\x00\x00\x03\x00\x06\x00\x00\x00\x02{}"), uint16(9))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		checkFuzz(t, data, cut, func(dst *bytes.Buffer, v Visitor, opts ...Option) fuzzWriter {
			return NewWriter(dst, v, nil, opts...)
		})
	})
}

func FuzzMultifdWriter(f *testing.F) {
	in := append(multifdHello(1), multifdPacket(0, "pc.ram", PageSize, 0x3000)...)
	in = append(in, pageData(1, 0)...)
	f.Add(append(in, multifdPacket(multifdFlagSync, "", PageSize)...), uint16(70))
	f.Add(append(multifdHello(2), multifdPacket(1<<2, "pc.ram", 10, 0)...), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		checkFuzz(t, data, cut, func(dst *bytes.Buffer, v Visitor, opts ...Option) fuzzWriter {
			return NewMultifdWriter(dst, v, nil, opts...)
		})
	})
}

// smallStream has one of each element the reader follows, and one page
// when withPage.
func smallStream(withPage bool) []byte {
	var e Builder
	e.Header()
	e.Config("pc", true, "x-ignore-shared")
	e.Command(cmdPostcopyAdvise, append(make([]byte, 6), 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0))
	e.Start(secStart, 1, "ram")
	e.MemSize(true, Block{"a", 0x2000}, Block{"b", 0x1000})
	e.EOS()
	e.Footer(1)
	e.Part(secPart, 1)
	e.Zero("a", 0x1000)
	e.Zero("b", 0)
	if withPage {
		e.Page("a", 0, pageData(0, 0))
	}
	e.EOS()
	e.Footer(1)
	e.Packaged([]byte{secCommand, 0, cmdPostcopyRun, 0, 0})
	e.Part(secEnd, 1)
	e.Zero("a", 0)
	e.EOS()
	e.Footer(1)
	e.U8(secEOF)
	e.VMDesc("{}")
	return e.Bytes()
}

// The small seeds are valid streams.
func TestSmallStream(t *testing.T) {
	for _, withPage := range []bool{true, false} {
		_, sum, _ := feed(t, smallStream(withPage))
		if sum.Err != nil || sum.Opaque != "" || !sum.RAMDone || !sum.EOF || sum.ZeroPages != 3 {
			t.Errorf("page %v: summary %+v", withPage, sum)
		}
	}
}

// Every prefix of the small streams, cut anywhere, keeps the fuzz
// properties: a stream cut short is the commonest malformed input (a
// cancelled migration), so it is checked exhaustively, not by chance.
func TestTruncatedStreams(t *testing.T) {
	for _, withPage := range []bool{true, false} {
		s := smallStream(withPage)
		for n := range len(s) {
			checkFuzz(t, s[:n], uint16(n/2), func(dst *bytes.Buffer, v Visitor, opts ...Option) fuzzWriter {
				return NewWriter(dst, v, nil, opts...)
			})
		}
	}
	in := append(multifdHello(1), multifdPacket(0, "pc.ram", PageSize, 0x3000)...)
	in = append(in, pageData(1, 0)...)
	for n := range len(in) {
		checkFuzz(t, in[:n], uint16(n/2), func(dst *bytes.Buffer, v Visitor, opts ...Option) fuzzWriter {
			return NewMultifdWriter(dst, v, nil, opts...)
		})
	}
}
