package pagecode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/stream"
)

// testPage is a page of pseudo-random bytes from seed.
func testPage(seed uint64) []byte {
	p := make([]byte, PageSize)
	s := seed*0x9e3779b97f4a7c15 + 1
	for i := 0; i < PageSize; i += 8 {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		binary.LittleEndian.PutUint64(p[i:], s)
	}
	return p
}

// textPage compresses well.
func textPage(seed uint64) []byte {
	words := []string{"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot\n", "golf ", "hotel "}
	var b bytes.Buffer
	s := seed + 7
	for b.Len() < PageSize {
		s = s*6364136223846793005 + 1442695040888963407
		b.WriteString(words[s>>61])
	}
	return b.Bytes()[:PageSize]
}

// qemuStream is a pre-copy stream of pages given per pass: pass i's
// pages[j] goes at offset j pages of "pc.ram" (nil: a zero page).
func qemuStream(passes ...[][]byte) []byte {
	var e stream.Builder
	most := 0
	for _, p := range passes {
		most = max(most, len(p))
	}
	e.Header()
	e.Config("pc-i440fx-7.2", false)
	e.Start(stream.SectionStart, 2, "ram")
	e.MemSize(false, stream.Block{Name: "pc.ram", Length: uint64(max(most, 1)) * PageSize})
	e.EOS()
	e.Footer(2)
	for i, pass := range passes {
		typ := byte(stream.SectionPart)
		if i == len(passes)-1 {
			typ = stream.SectionEnd
		}
		e.Part(typ, 2)
		for j, pg := range pass {
			if pg == nil {
				e.Zero("pc.ram", uint64(j)*PageSize)
			} else {
				e.Page("pc.ram", uint64(j)*PageSize, pg)
			}
		}
		e.EOS()
		e.Footer(2)
	}
	e.Start(stream.SectionFull, 3, "timer")
	e.Write([]byte("device state"))
	e.EOF()
	e.VMDesc("{}")
	return e.Bytes()
}

// roundTrip codes in (written in chunks of chunk bytes) and decodes it,
// failing t unless the destination gets exactly in.
func roundTrip(t testing.TB, in []byte, chunk int, cfg EncoderConfig) (Stats, Stats) {
	t.Helper()
	var link bytes.Buffer
	e, err := NewEncoder(&link, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for b := in; len(b) > 0; {
		k := min(chunk, len(b))
		if n, err := e.Write(b[:k]); err != nil || n != k {
			t.Fatalf("Write = %d, %v", n, err)
		}
		b = b[k:]
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(&link, DecoderConfig{}, nil)
	var out bytes.Buffer
	if _, err := d.WriteTo(&out); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("destination got %d bytes, not the %d QEMU wrote", out.Len(), len(in))
	}
	es, ds := e.Stats(), d.Stats()
	if es.Out != ds.In || es.In != ds.Out {
		t.Fatalf("encoder %+v, decoder %+v", es, ds)
	}
	return es, ds
}
