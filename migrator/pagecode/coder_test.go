package pagecode

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
)

func TestRoundTripCodes(t *testing.T) {
	var first, second [][]byte
	for i := range 64 {
		switch {
		case i%4 == 0:
			first = append(first, nil) // zero
		case i%4 == 1:
			first = append(first, testPage(uint64(i%8))) // repeats: refs
		case i%4 == 2:
			first = append(first, textPage(uint64(i))) // compresses
		default:
			first = append(first, testPage(uint64(1000+i))) // literal
		}
	}
	for i, p := range first {
		if p != nil && i%4 == 3 {
			q := bytes.Clone(p)
			q[100]++ // a guest's small write: a delta
			p = q
		}
		second = append(second, p)
	}
	in := qemuStream(first, second)
	for _, chunk := range []int{1, 7, 4096, 32 << 10, len(in)} {
		es, _ := roundTrip(t, in, chunk, EncoderConfig{Key: NewKey(), Mode: ModeAlways})
		if es.Refs == 0 || es.Deltas != 16 || es.Lits == 0 {
			t.Errorf("chunk %d: %+v", chunk, es)
		}
		if es.Out*5 > es.In*2 {
			t.Errorf("chunk %d: %d bytes on the link for %d", chunk, es.Out, es.In)
		}
	}
}

// A store smaller than the stream evicts on both ends alike.
func TestRoundTripSmallStore(t *testing.T) {
	var pass [][]byte
	for i := range 200 {
		pass = append(pass, testPage(uint64(i%12)))
	}
	es, _ := roundTrip(t, qemuStream(pass, pass, pass), 1000, EncoderConfig{Key: NewKey(), Slots: minSlots, Mode: ModeAlways})
	if es.Refs == 0 || es.Lits == 0 {
		t.Errorf("%+v", es)
	}
}

// Random memory stops being coded in auto mode, and still arrives.
func TestAutoBacksOff(t *testing.T) {
	var pass [][]byte
	for i := range 3 * window {
		pass = append(pass, testPage(uint64(i)))
	}
	es, _ := roundTrip(t, qemuStream(pass), 64<<10, EncoderConfig{Key: NewKey()})
	if es.Raw < window || es.Raw+es.Lits != es.Pages {
		t.Errorf("%+v", es)
	}
}

// A page rebuilt to content other than its name fails the decoding, and
// nothing of it reaches QEMU.
func TestMismatchFails(t *testing.T) {
	in := qemuStream([][]byte{testPage(1), testPage(2)})
	var link bytes.Buffer
	e, _ := NewEncoder(&link, EncoderConfig{Key: NewKey(), Mode: ModeAlways}, nil)
	e.Write(in)
	e.Close()
	b := link.Bytes()
	i := bytes.Index(b, testPage(2))
	if i < 0 {
		t.Fatal("literal page not on the link")
	}
	b[i+5]++
	var out bytes.Buffer
	_, err := NewDecoder(bytes.NewReader(b), DecoderConfig{}, nil).WriteTo(&out)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v", err)
	}
	if bytes.Contains(out.Bytes(), b[i:i+PageSize]) {
		t.Fatal("the corrupt page reached QEMU")
	}
}

func TestTruncatedLink(t *testing.T) {
	in := qemuStream([][]byte{testPage(1)})
	var link bytes.Buffer
	e, _ := NewEncoder(&link, EncoderConfig{Key: NewKey(), Mode: ModeAlways}, nil)
	e.Write(in) // no Close: the source died
	_, err := NewDecoder(&link, DecoderConfig{}, nil).WriteTo(io.Discard)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
}

func TestStoreLimit(t *testing.T) {
	var link bytes.Buffer
	e, _ := NewEncoder(&link, EncoderConfig{Key: NewKey(), Slots: 1 << 16}, nil)
	e.Close()
	_, err := NewDecoder(&link, DecoderConfig{MaxSlots: 1 << 10}, nil).WriteTo(io.Discard)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
}

func TestDelta(t *testing.T) {
	base := testPage(1)
	page := bytes.Clone(base)
	page[0]++
	page[9]++
	page[4000] = 0
	d, ok := appendDelta(nil, base, page, PageSize)
	if !ok || len(d) > 40 {
		t.Fatalf("delta of %d bytes, ok %v", len(d), ok)
	}
	got := bytes.Clone(base)
	if err := applyDelta(got, d); err != nil || !bytes.Equal(got, page) {
		t.Fatalf("applyDelta: %v", err)
	}
	if _, ok := appendDelta(nil, base, testPage(2), 100); ok {
		t.Fatal("a delta over its limit")
	}
}

// Tamper alters one page after naming it: the destination refuses it.
func TestTamperRefused(t *testing.T) {
	var pass [][]byte
	for i := range 8 {
		pass = append(pass, textPage(uint64(i%3)))
	}
	var link bytes.Buffer
	e, _ := NewEncoder(&link, EncoderConfig{Key: NewKey(), Mode: ModeAlways, Tamper: 5}, nil)
	e.Write(qemuStream(pass))
	e.Close()
	_, err := NewDecoder(&link, DecoderConfig{}, nil).WriteTo(io.Discard)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v", err)
	}
}

// TestLargeWrites: a Write of several MiB (the agents' pipe writes 32 KiB,
// but nothing bounds a caller) still makes chunks the decoder takes, for
// chunks that go stored (random pages) and compressed (text).
func TestLargeWrites(t *testing.T) {
	var random, text [][]byte
	for i := range 2048 {
		random = append(random, testPage(uint64(i)))
		text = append(text, textPage(uint64(i)))
	}
	for _, in := range [][]byte{qemuStream(random), qemuStream(text)} {
		for _, chunk := range []int{1 << 20, 3 << 20, 16 << 20} {
			roundTrip(t, in, chunk, EncoderConfig{Key: NewKey()})
		}
	}
}

// TestAutoPauseDoubles: each window that does not pay pauses naming for
// twice as many windows as the last, up to maxSkipWindows; one that pays
// names every page again.
func TestAutoPauseDoubles(t *testing.T) {
	p := policy{mode: ModeAuto}
	judge := func(hit bool) int { // names a window; the pause it earns
		for range window {
			if !p.coding() {
				t.Fatal("a page unnamed inside a judged window")
			}
			p.coded(hit)
		}
		n := 0
		for !p.coding() {
			n++
		}
		return n / window
	}
	var got []int
	for range 6 {
		got = append(got, judge(false))
	}
	if want := []int{8, 16, 32, 64, 64, 64}; !slices.Equal(got, want) {
		t.Fatalf("pauses %v, want %v", got, want)
	}
	if n := judge(true); n != 0 {
		t.Fatalf("a paying window paused %d windows", n)
	}
	if n := judge(false); n != skipWindows {
		t.Fatalf("after a paying window: paused %d, want %d", n, skipWindows)
	}
}
