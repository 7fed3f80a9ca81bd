package vnf

import (
	"bytes"
	"compress/flate"
	"testing"
)

// testMix has 1 MiB (256 pages) of each kind.
var testMix = Mix{Shared: 1, Unique: 1, Text: 1, Zero: 1}

const pagesPerMiB = (1 << 20) / PageSize

func mixed(t testing.TB, mix Mix, sharedSeed, uniqueSeed uint64) *memory {
	t.Helper()
	m := newMixedMemory(mix, sharedSeed, uniqueSeed, nil)
	for i := range m.pages() {
		m.write(i)
	}
	return m
}

// region returns the pages of the k-th kind of testMix.
func (m *memory) region(k int) []byte { return m.buf[k<<20 : (k+1)<<20] }

func TestMixLayout(t *testing.T) {
	m := newMixedMemory(Mix{Shared: 2, Text: 1, Zero: 1}, 1, 2, nil)
	for i, want := range map[int]pageKind{0: kindShared, 511: kindShared, 512: kindText, 767: kindText, 768: kindZero, 1023: kindZero} {
		if k := m.kind(i); k != want {
			t.Errorf("page %d: kind %d, want %d", i, k, want)
		}
	}
	if m.pages() != 1024 || m.dirtyable != 768 {
		t.Errorf("%d pages, %d dirtyable", m.pages(), m.dirtyable)
	}
	if m := newMixedMemory(Mix{Zero: 1}, 1, 2, nil); m.dirtyable != 0 {
		t.Errorf("zero pages only: %d dirtyable", m.dirtyable)
	}
}

// Two VMs with the same shared seed hold byte-identical shared pages, header
// included, whatever their unique seeds and the rest of their mixes; their
// unique and text pages differ. A shared page dirtied in one VM differs
// from the other's until the other writes the same generation.
func TestSharedPagesAlikeAcrossVMs(t *testing.T) {
	a := mixed(t, testMix, 7, 1)
	b := mixed(t, Mix{Shared: 1, Unique: 2, Text: 1}, 7, 2)
	if !bytes.Equal(a.region(0), b.region(0)) {
		t.Fatal("shared pages differ between VMs with the same shared seed")
	}
	for p := 0; p < 2*pagesPerMiB; p++ { // a's unique and text pages against b's unique ones
		i := pagesPerMiB + p
		if bytes.Equal(a.page(i)[headerLen:], b.page(i)[headerLen:]) {
			t.Fatalf("page %d (kind %d): same payload in two VMs", i, a.kind(i))
		}
	}
	c := mixed(t, Mix{Text: 1}, 7, 3)
	if bytes.Equal(a.region(2), c.region(0)) {
		t.Fatal("text pages alike in two VMs")
	}
	if d := mixed(t, testMix, 8, 1); bytes.Equal(a.region(0), d.region(0)) {
		t.Fatal("shared pages alike with another shared seed")
	}

	a.write(5)
	if bytes.Equal(a.page(5), b.page(5)) {
		t.Fatal("a dirtied shared page still like the other VM's")
	}
	b.write(5)
	if !bytes.Equal(a.page(5), b.page(5)) {
		t.Fatal("shared pages of the same generation differ")
	}
}

// Compressibility of each kind, with flate's fastest level standing in for
// the migration link's compressor: page by page and as a stream (flate's
// window is 32 KiB).
func TestMixCompressibility(t *testing.T) {
	m := mixed(t, testMix, DefaultSharedSeed, 1)
	for _, tt := range []struct {
		name     string
		region   int
		min, max float64
	}{
		{"shared", 0, 1.8, 4},
		{"unique", 1, 0, 1.05},
		{"text", 2, 2.5, 100},
	} {
		b := m.region(tt.region)
		stream, page := compressRatio(t, b, len(b)), compressRatio(t, b, PageSize)
		t.Logf("%s: %.2f× as a stream, %.2f× page by page", tt.name, stream, page)
		if stream < tt.min || stream >= tt.max {
			t.Errorf("%s compresses %.2f× as a stream, want %g to %g", tt.name, stream, tt.min, tt.max)
		}
	}
	if !bytes.Equal(m.region(3), make([]byte, 1<<20)) {
		t.Error("zero pages not zero")
	}
}

// Text pages are text to the last byte: no gap, no padding.
func TestTextPages(t *testing.T) {
	m := mixed(t, Mix{Text: 1}, 1, 1)
	for i := range m.pages() {
		for j, c := range m.page(i)[headerLen:] {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == ' ' || c == '\n') {
				t.Fatalf("page %d byte %d: %q", i, headerLen+j, c)
			}
		}
	}
}

// compressRatio is how much flate's fastest level shrinks b compressed in
// pieces of chunk bytes.
func compressRatio(t testing.TB, b []byte, chunk int) float64 {
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for p := 0; p < len(b); p += chunk {
		out.Reset()
		w.Reset(&out)
		w.Write(b[p:min(p+chunk, len(b))])
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		total += out.Len()
	}
	return float64(len(b)) / float64(total)
}

// The cost of writing one page of each kind: the guest runs under TCG.
func BenchmarkWritePage(b *testing.B) {
	m := mixed(b, testMix, DefaultSharedSeed, 1)
	for k, name := range mixKinds {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(PageSize)
			for i := 0; b.Loop(); i++ {
				m.write(k*pagesPerMiB + i%pagesPerMiB)
			}
		})
	}
}
