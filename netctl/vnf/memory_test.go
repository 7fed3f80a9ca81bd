package vnf

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"testing"
)

func filled(t *testing.T, pages int, f Fill) *memory {
	t.Helper()
	m := newMemory(pages, f, nil)
	for i := range pages {
		m.write(i)
	}
	for i := range pages {
		if s := m.verify(i); s != pageOK {
			t.Fatalf("fresh page %d: state %d", i, s)
		}
	}
	return m
}

func TestVerifyCatchesCorruptPage(t *testing.T) {
	m := filled(t, 16, FillRandom)
	m.page(3)[1000] ^= 0x01 // one flipped bit in the payload
	if s := m.verify(3); s != pageCorrupt {
		t.Fatalf("flipped bit: state %d, want corrupt", s)
	}
	// A valid page in the wrong place (index mismatch, good checksum).
	copy(m.page(6), m.page(5))
	if s := m.verify(6); s != pageCorrupt {
		t.Fatalf("misplaced page: state %d, want corrupt", s)
	}
	// A zeroed page (e.g. lost in transfer).
	clear(m.page(7))
	if s := m.verify(7); s != pageCorrupt {
		t.Fatalf("zeroed page: state %d, want corrupt", s)
	}
	if got := m.corrupt.Load(); got != 3 {
		t.Fatalf("corrupt = %d, want 3", got)
	}
	if m.stale.Load() != 0 {
		t.Fatalf("stale = %d", m.stale.Load())
	}
}

func TestVerifyCatchesStalePage(t *testing.T) {
	m := filled(t, 16, FillRandom)
	old := bytes.Clone(m.page(4))
	m.write(4)
	if s := m.verify(4); s != pageOK {
		t.Fatalf("rewritten page: state %d", s)
	}
	copy(m.page(4), old) // the new generation was lost: the page went back in time
	if s := m.verify(4); s != pageStale {
		t.Fatalf("old generation: state %d, want stale", s)
	}
	if m.stale.Load() != 1 || m.corrupt.Load() != 0 {
		t.Fatalf("stale %d corrupt %d", m.stale.Load(), m.corrupt.Load())
	}
}

func TestVerifyGenerationFromFuture(t *testing.T) {
	m := filled(t, 4, FillPattern)
	m.write(2)
	m.expected[2]-- // as if the expected slice were stale instead
	if s := m.verify(2); s != pageCorrupt {
		t.Fatalf("state %d, want corrupt", s)
	}
}

func TestUnwrittenPagesAreSkipped(t *testing.T) {
	m := newMemory(4, FillRandom, nil)
	if s := m.verify(0); s != pageUnwritten || m.verified.Load() != 0 {
		t.Fatalf("state %d verified %d", s, m.verified.Load())
	}
}

func TestFillKinds(t *testing.T) {
	compressed := func(b []byte) int {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		w.Write(b)
		w.Close()
		return buf.Len()
	}
	for _, tt := range []struct {
		fill         Fill
		incompressed bool
	}{{FillRandom, true}, {FillZero, false}, {FillPattern, false}} {
		m := filled(t, 64, tt.fill)
		c := compressed(m.buf)
		if tt.incompressed && c < len(m.buf)*95/100 {
			t.Errorf("%v: compresses to %d of %d", tt.fill, c, len(m.buf))
		}
		if !tt.incompressed && c > len(m.buf)/10 {
			t.Errorf("%v: compresses only to %d of %d", tt.fill, c, len(m.buf))
		}
		p := m.page(9)
		if binary.LittleEndian.Uint64(p[offIndex:]) != 9 || binary.LittleEndian.Uint64(p[offGen:]) != 1 {
			t.Errorf("%v: bad header % x", tt.fill, p[:headerLen])
		}
		if tt.fill == FillZero && !bytes.Equal(p[headerLen:], make([]byte, PageSize-headerLen)) {
			t.Errorf("zero fill not zero")
		}
	}
	// Random payloads change with the generation.
	m := filled(t, 1, FillRandom)
	before := bytes.Clone(m.page(0)[headerLen:])
	m.write(0)
	if bytes.Equal(before, m.page(0)[headerLen:]) {
		t.Error("payload unchanged by a new generation")
	}
}

func TestParseFill(t *testing.T) {
	for _, s := range []string{"random", "zero", "pattern"} {
		f, err := ParseFill(s)
		if err != nil || f.String() != s {
			t.Errorf("%s: %v %v", s, f, err)
		}
	}
	if _, err := ParseFill("ones"); err == nil {
		t.Error("accepted unknown fill")
	}
}

// Verify is as strict for every kind of a mix: a flipped bit anywhere in a
// page is corruption, so is a page of the right kind in the wrong place,
// and an old generation is stale. A zero page is corrupt with any byte
// set; it has no generation, so it is never stale.
func TestVerifyCatchesCorruptMixedPage(t *testing.T) {
	m := mixed(t, testMix, DefaultSharedSeed, 1)
	for i := range m.pages() {
		if s := m.verify(i); s != pageOK {
			t.Fatalf("fresh page %d (kind %d): state %d", i, m.kind(i), s)
		}
	}
	var corrupt uint64
	for k, name := range mixKinds {
		first := k * pagesPerMiB
		for _, off := range []int{offIndex, offGen + 3, offCRC, headerLen, 2000, PageSize - 1} {
			i := first + off%pagesPerMiB
			m.page(i)[off] ^= 0x10
			if s := m.verify(i); s != pageCorrupt {
				t.Errorf("%s page %d, byte %d flipped: state %d, want corrupt", name, i, off, s)
			}
			corrupt++
			m.page(i)[off] ^= 0x10
		}
		i := first + 100
		copy(m.page(i), m.page(i+1))
		s := m.verify(i)
		if name == "zero" {
			if s != pageOK {
				t.Errorf("a zero page copied over another: state %d", s)
			}
			continue
		}
		if s != pageCorrupt {
			t.Errorf("%s page in the wrong place: state %d, want corrupt", name, s)
		}
		corrupt++
		old := bytes.Clone(m.page(i + 2))
		m.write(i + 2)
		copy(m.page(i+2), old)
		if s := m.verify(i + 2); s != pageStale {
			t.Errorf("%s page of an old generation: state %d, want stale", name, s)
		}
	}
	if m.corrupt.Load() != corrupt || m.stale.Load() != 3 {
		t.Fatalf("corrupt %d stale %d, want %d and 3", m.corrupt.Load(), m.stale.Load(), corrupt)
	}
}
