package stream

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"testing"
)

// pageKey names a page and its content for comparisons.
func pageKey(p Page) string {
	if p.Zero {
		return fmt.Sprintf("%s@%#x zero %d", p.Block, p.Offset, p.Fill)
	}
	return fmt.Sprintf("%s@%#x %x", p.Block, p.Offset, sha256.Sum256(p.Data))
}

// recorder is a Visitor that checks each page record is whole and not
// yet forwarded when it is reported: it starts exactly where dst ends.
type recorder struct {
	t      testing.TB
	in     []byte // the whole input
	dst    *bytes.Buffer
	pages  []string
	events []Event
}

func (r *recorder) Page(p Page) {
	rec := append(slices.Clone(p.Header), p.Data...)
	if p.Zero {
		rec = append(rec, p.Fill)
	}
	at := r.dst.Len()
	if !p.Multifd && !bytes.Equal(r.in[at:min(len(r.in), at+len(rec))], rec) {
		r.t.Errorf("page %s@%#x reported with dst at %d: not the next bytes", p.Block, p.Offset, at)
	}
	if p.Multifd && !bytes.Equal(r.in[at:min(len(r.in), at+PageSize)], p.Data) {
		r.t.Errorf("multifd page %s@%#x reported with dst at %d: not the next bytes", p.Block, p.Offset, at)
	}
	r.pages = append(r.pages, pageKey(p))
}

func (r *recorder) Event(e Event) { r.events = append(r.events, e) }

// feed writes in through a Writer in chunks cut at cuts and returns the
// recorder, the Writer's Summary and what dst received.
func feed(t testing.TB, in []byte, cuts ...int) (*recorder, Summary, []byte) {
	return feedWith(t, func(dst io.Writer, v Visitor) reader { return NewWriter(dst, v, nil) }, in, cuts...)
}

// reader is what Writer and MultifdWriter have in common.
type reader interface {
	io.WriteCloser
	Summary() Summary
}

// feedWith writes in through the reader newR makes, in chunks cut at cuts.
func feedWith(t testing.TB, newR func(io.Writer, Visitor) reader, in []byte, cuts ...int) (*recorder, Summary, []byte) {
	t.Helper()
	var dst bytes.Buffer
	r := &recorder{t: t, in: in, dst: &dst}
	w := newR(&dst, r)
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if n, err := w.Write(in[prev:c]); err != nil || n != c-prev {
			t.Fatalf("Write(%d bytes) = %d, %v", c-prev, n, err)
		}
		prev = c
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return r, w.Summary(), dst.Bytes()
}

func TestFullStream(t *testing.T) {
	in, want := fullStream()
	r, sum, out := feed(t, in)
	if !bytes.Equal(out, in) {
		t.Fatal("output differs from input")
	}
	if !slices.Equal(r.pages, want) {
		t.Errorf("pages\n%q\nwant\n%q", r.pages, want)
	}
	if sum.Err != nil || sum.Opaque != "" || sum.Refused != "" {
		t.Errorf("err %v, opaque %q, refused %q", sum.Err, sum.Opaque, sum.Refused)
	}
	if sum.Pages != 5 || sum.ZeroPages != 4 || sum.Sections != 4 || !sum.Postcopy || !sum.RAMDone || !sum.EOF {
		t.Errorf("summary %+v", sum)
	}
	if !slices.Equal(sum.Blocks, testBlocks) || sum.Bytes != int64(len(in)) || sum.Channel != -1 {
		t.Errorf("blocks %v, bytes %d, channel %d", sum.Blocks, sum.Bytes, sum.Channel)
	}
	var cmds []uint16
	var discards []Extent
	for _, e := range r.events {
		switch e.Kind {
		case EventCommand:
			cmds = append(cmds, e.Cmd)
		case EventDiscard:
			if e.Name != "pc.ram" || e.Len != uint32(len(e.Extents)) {
				t.Errorf("discard %+v", e)
			}
			discards = append(discards, e.Extents...)
		}
	}
	if !slices.Equal(discards, []Extent{{0x1000, 0x2000}}) {
		t.Errorf("discarded %v", discards)
	}
	if !slices.Equal(cmds, []uint16{cmdOpenReturnPath, cmdPing, cmdPostcopyAdvise, cmdRAMDiscard, cmdPing, cmdPackaged}) {
		t.Errorf("commands %v", cmds)
	}
}

// Every cut of the full stream into two Writes, and byte by byte, reads
// the same.
func TestFullStreamEverySplit(t *testing.T) {
	in, want := fullStream()
	for cut := 0; cut <= len(in); cut++ {
		r, sum, out := feed(t, in, cut)
		if !bytes.Equal(out, in) || !slices.Equal(r.pages, want) || sum.Err != nil || sum.Opaque != "" {
			t.Fatalf("cut at %d: out equal %v, pages %d of %d, err %v, opaque %q",
				cut, bytes.Equal(out, in), len(r.pages), len(want), sum.Err, sum.Opaque)
		}
	}
	cuts := make([]int, 0, len(in))
	for i := 1; i < len(in); i++ {
		cuts = append(cuts, i)
	}
	r, sum, out := feed(t, in, cuts...)
	if !bytes.Equal(out, in) || !slices.Equal(r.pages, want) || sum.Err != nil {
		t.Fatalf("byte by byte: pages %d, err %v", len(r.pages), sum.Err)
	}
}

// A pre-copy stream: after RAM's END the first FULL device section turns
// the reader opaque, which is normal: nothing is refused.
func TestDeviceStateIsOpaque(t *testing.T) {
	var e Builder
	e.Header()
	e.Config("pc-i440fx-7.2", false)
	e.Start(secStart, 0, "ram")
	e.MemSize(false, testBlocks[0])
	e.EOS()
	e.Footer(0)
	e.Part(secEnd, 0)
	e.Page("pc.ram", 0x4000, pageData(1, 0x4000))
	e.EOS()
	e.Footer(0)
	at := e.Len()
	e.Start(secFull, 1, "timer")
	e.Write(bytes.Repeat([]byte{0x7e, 0x00, 0xff}, 100)) // anything
	e.U8(secEOF)
	e.VMDesc("{}")
	in := e.Bytes()
	r, sum, out := feed(t, in, at+3)
	if !bytes.Equal(out, in) || len(r.pages) != 1 {
		t.Fatalf("out equal %v, pages %d", bytes.Equal(out, in), len(r.pages))
	}
	if sum.Refused != "" || sum.Err != nil || !sum.RAMDone || sum.OpaqueAt != int64(at+19) ||
		sum.Opaque != `device state from section "timer" on` {
		t.Errorf("summary %+v", sum)
	}
	if last := r.events[len(r.events)-1]; last.Kind != EventOpaque || last.Refused {
		t.Errorf("last event %+v", last)
	}
}

// BenchmarkWriter reads a RAM PART of 256 pages and 256 zero pages in
// QEMU's 32 KiB writes.
func BenchmarkWriter(b *testing.B) {
	var e Builder
	e.Header()
	e.Config("pc-i440fx-7.2", false)
	e.Start(secStart, 0, "ram")
	e.MemSize(false, Block{"pc.ram", 4 << 20})
	e.EOS()
	e.Footer(0)
	head := e.Len()
	e.Part(secPart, 0)
	for i := range uint64(256) {
		e.Page("pc.ram", i*PageSize, pageData(byte(i), 0))
		e.Zero("pc.ram", (256+i)*PageSize)
	}
	e.EOS()
	e.Footer(0)
	in := e.Bytes()
	part := in[head:]
	b.SetBytes(int64(len(part)))
	w := NewWriter(io.Discard, nil, nil)
	w.Write(in[:head])
	b.ResetTimer()
	for range b.N {
		for p := part; len(p) > 0; {
			n := min(len(p), 32<<10)
			w.Write(p[:n])
			p = p[n:]
		}
	}
	if s := w.Summary(); s.Err != nil || s.Opaque != "" {
		b.Fatal(s.Err, s.Opaque)
	}
}
