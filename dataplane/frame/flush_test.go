package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

type flushRec struct {
	o     Origin
	frame []byte
}

func encodeFlush(t testing.TB, recs []flushRec) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewFlushWriter(&b, 0)
	for _, r := range recs {
		if err := w.WriteFrame(r.o, r.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readFlush reads a whole stream; err is nil after a clean io.EOF.
func readFlush(b []byte) ([]flushRec, error) {
	r := NewFlushReader(bytes.NewReader(b))
	var recs []flushRec
	for {
		o, f, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, flushRec{o, f})
	}
}

func testFrames() []flushRec {
	var recs []flushRec
	for i := range 300 {
		o := OriginBuffered
		switch {
		case i == 0:
			o = OriginHeld
		case i < 10:
			o = OriginResidue
		}
		n := 1 + (i*37)%MaxFrame
		if i == 299 {
			n = MaxFrame
		}
		f := bytes.Repeat([]byte{byte(i)}, n)
		recs = append(recs, flushRec{o, f})
	}
	return recs
}

// countingWriter counts the Write calls reaching the underlying writer.
type countingWriter struct {
	bytes.Buffer
	calls int
}

func (c *countingWriter) Write(p []byte) (int, error) { c.calls++; return c.Buffer.Write(p) }

func TestFlushRoundTrip(t *testing.T) {
	want := testFrames()
	var cw countingWriter
	w := NewFlushWriter(&cw, 0)
	var bytesIn uint64
	for _, r := range want {
		if err := w.WriteFrame(r.o, r.frame); err != nil {
			t.Fatal(err)
		}
		bytesIn += uint64(len(r.frame))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if f, b := w.Counts(); f != uint64(len(want)) || b != bytesIn {
		t.Errorf("writer counts %d/%d, want %d/%d", f, b, len(want), bytesIn)
	}
	if cw.calls > len(want)/10 {
		t.Errorf("%d writes for %d frames: not buffered", cw.calls, len(want))
	}
	if err := w.WriteFrame(OriginBuffered, []byte{1}); err == nil {
		t.Error("WriteFrame after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	got, err := readFlush(cw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].o != want[i].o || !bytes.Equal(got[i].frame, want[i].frame) {
			t.Fatalf("frame %d: %v/%d bytes, want %v/%d bytes", i, got[i].o, len(got[i].frame), want[i].o, len(want[i].frame))
		}
	}
}

func TestFlushEmpty(t *testing.T) {
	b := encodeFlush(t, nil)
	if len(b) != headerLen+recordLen+endLen {
		t.Errorf("empty stream is %d bytes", len(b))
	}
	r := NewFlushReader(bytes.NewReader(b))
	for range 2 { // io.EOF is sticky
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("Next: %v, want io.EOF", err)
		}
	}
}

func TestFlushWriterRejects(t *testing.T) {
	w := NewFlushWriter(io.Discard, 0)
	for _, tc := range []struct {
		o Origin
		n int
	}{{0, 10}, {4, 10}, {OriginHeld, 0}, {OriginHeld, MaxFrame + 1}} {
		if err := w.WriteFrame(tc.o, make([]byte, tc.n)); err == nil {
			t.Errorf("WriteFrame(%v, %d bytes) succeeded", tc.o, tc.n)
		}
	}
	if f, _ := w.Counts(); f != 0 {
		t.Errorf("rejected frames counted: %d", f)
	}
}

func TestOriginString(t *testing.T) {
	for o, want := range map[Origin]string{OriginHeld: "held", OriginResidue: "residue", OriginBuffered: "buffered", 9: "origin(9)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}

func TestFlushMalformed(t *testing.T) {
	good := encodeFlush(t, []flushRec{{OriginHeld, []byte("abc")}, {OriginBuffered, []byte("defg")}})
	// Offsets: header 0..8, record 1 at 8 (frame at 16..19), record 2 at 19
	// (frame at 27..31), end record at 31 (counts at 39..55).
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	end := func(frames, n uint64) []byte {
		return mut(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[39:], frames)
			binary.BigEndian.PutUint64(b[47:], n)
			return b
		})
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"short header":     good[:5],
		"bad magic":        mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version 2":        mut(func(b []byte) []byte { b[5] = 2; return b }),
		"header flags":     mut(func(b []byte) []byte { b[7] = 1; return b }),
		"no end":           good[:31],
		"cut in frame":     good[:25],
		"cut in rec hdr":   good[:22],
		"cut in end":       good[:45],
		"unknown type":     mut(func(b []byte) []byte { b[8] = 3; return b }),
		"origin 0":         mut(func(b []byte) []byte { b[9] = 0; return b }),
		"origin 4":         mut(func(b []byte) []byte { b[9] = 4; return b }),
		"reserved":         mut(func(b []byte) []byte { b[11] = 1; return b }),
		"length 0":         mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 0); return b }),
		"length too large": mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], MaxFrame+1); return b }),
		"length huge":      mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 0xffffffff); return b }),
		"end origin":       mut(func(b []byte) []byte { b[32] = 1; return b }),
		"end length":       mut(func(b []byte) []byte { b[38] = 17; return b }),
		"frames mismatch":  end(1, 7),
		"bytes mismatch":   end(2, 8),
		"data after end":   append(append([]byte(nil), good...), 0),
		"two ends":         append(append([]byte(nil), good...), good[31:]...),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readFlush(b)
			if !errors.Is(err, ErrMalformedFlush) {
				t.Fatalf("err %v, want ErrMalformedFlush", err)
			}
		})
	}
}

func TestFlushMaxBytes(t *testing.T) {
	b := encodeFlush(t, []flushRec{{OriginResidue, make([]byte, 100)}, {OriginBuffered, make([]byte, 100)}})
	r := NewFlushReader(bytes.NewReader(b))
	r.SetMaxBytes(150)
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); !errors.Is(err, ErrMalformedFlush) {
		t.Fatalf("second frame over the limit: %v", err)
	}
}

// errReader fails after its data.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestFlushReaderPassesIOErrors(t *testing.T) {
	boom := errors.New("boom")
	good := encodeFlush(t, []flushRec{{OriginHeld, []byte("abc")}})
	_, err := readFlush(nil) // sanity: empty is malformed
	if !errors.Is(err, ErrMalformedFlush) {
		t.Fatal(err)
	}
	r := NewFlushReader(&errReader{data: good[:20], err: boom})
	for {
		_, _, err := r.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, boom) || errors.Is(err, ErrMalformedFlush) {
			t.Fatalf("err %v, want boom", err)
		}
		break
	}
}

// A length field claiming far more than MaxFrame allocates nothing big.
func TestFlushReaderNoBigAlloc(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(flushMagic)
	b.Write([]byte{0, 1, 0, 0, recFrame, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := readFlush(b.Bytes()); !errors.Is(err, ErrMalformedFlush) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 100*(80<<10) {
		t.Errorf("allocated %d bytes for 100 rejected streams", d)
	}
}

func FuzzFlushReader(f *testing.F) {
	f.Add(encodeFlush(f, nil))
	f.Add(encodeFlush(f, []flushRec{{OriginHeld, []byte("x")}, {OriginResidue, make([]byte, 60)}, {OriginBuffered, make([]byte, MaxFrame)}}))
	f.Add([]byte("NFHF\x00\x01\x00\x00\x01\x03\x00\x00\x00\x00\x00\x02ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := readFlush(b)
		var total int
		for _, r := range recs {
			if len(r.frame) == 0 || len(r.frame) > MaxFrame || !r.o.valid() {
				t.Fatalf("bad frame: origin %d, %d bytes", r.o, len(r.frame))
			}
			total += len(r.frame)
		}
		if total > len(b) {
			t.Fatalf("%d frame bytes out of a %d-byte stream", total, len(b))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedFlush) {
				t.Fatalf("error %v does not wrap ErrMalformedFlush", err)
			}
			return
		}
		// A stream that reads cleanly is exactly what the writer produces.
		if again := encodeFlush(t, recs); !bytes.Equal(again, b) {
			t.Fatalf("valid stream is not canonical: %x vs %x", b, again)
		}
	})
}

// encodeSections writes one section per element of secs, NIC 0 first.
func encodeSections(t testing.TB, secs [][]flushRec) []byte {
	t.Helper()
	var b bytes.Buffer
	for nic, recs := range secs {
		w := NewFlushWriter(&b, nic)
		for _, r := range recs {
			if err := w.WriteFrame(r.o, r.frame); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// readSections reads the nics sections of b in order; err is the first
// section's error other than a clean io.EOF.
func readSections(b []byte, nics int) ([][]flushRec, error) {
	secs := make([][]flushRec, nics)
	for i, r := range NewFlushReaders(bytes.NewReader(b), nics) {
		for {
			o, f, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return secs, err
			}
			secs[i] = append(secs[i], flushRec{o, f})
		}
	}
	return secs, nil
}

func TestFlushSections(t *testing.T) {
	secs := [][]flushRec{
		{{OriginHeld, []byte("a0")}, {OriginBuffered, []byte("a1")}},
		nil,
		{{OriginResidue, []byte("c0")}},
	}
	b := encodeSections(t, secs)
	got, err := readSections(b, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range secs {
		if len(got[i]) != len(secs[i]) {
			t.Fatalf("nic %d: %d frames, want %d", i, len(got[i]), len(secs[i]))
		}
		for j := range secs[i] {
			if got[i][j].o != secs[i][j].o || !bytes.Equal(got[i][j].frame, secs[i][j].frame) {
				t.Fatalf("nic %d frame %d: %v, want %v", i, j, got[i][j], secs[i][j])
			}
		}
	}
	// A one-NIC stream is the section of NIC 0, byte for byte.
	if one := encodeSections(t, secs[:1]); !bytes.Equal(one, encodeFlush(t, secs[0])) {
		t.Fatal("one section differs from a one-NIC stream")
	}
	for name, c := range map[string]struct {
		b    []byte
		nics int
	}{
		"fewer sections": {encodeSections(t, secs[:2]), 3},
		"more sections":  {b, 2},
		"wrong order":    {encodeSections(t, [][]flushRec{nil, nil})[8+24:], 2},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := readSections(c.b, c.nics); !errors.Is(err, ErrMalformedFlush) {
				t.Fatalf("err %v, want ErrMalformedFlush", err)
			}
		})
	}
	// A section read before the one ahead of it ended is refused.
	rs := NewFlushReaders(bytes.NewReader(b), 3)
	if _, _, err := rs[1].Next(); err == nil || errors.Is(err, ErrMalformedFlush) {
		t.Fatalf("reading nic 1 first: err %v, want an out-of-order error", err)
	}
}

func FuzzFlushSections(f *testing.F) {
	f.Add(encodeSections(f, [][]flushRec{nil, nil}))
	f.Add(encodeSections(f, [][]flushRec{{{OriginHeld, []byte("x")}}, {{OriginBuffered, make([]byte, 60)}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		secs, err := readSections(b, 2)
		if err != nil {
			if !errors.Is(err, ErrMalformedFlush) {
				t.Fatalf("error %v does not wrap ErrMalformedFlush", err)
			}
			return
		}
		if again := encodeSections(t, secs); !bytes.Equal(again, b) {
			t.Fatalf("valid stream is not canonical: %x vs %x", b, again)
		}
	})
}
