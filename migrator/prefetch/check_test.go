package prefetch

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// check asserts what any run must keep, given the input it took whole:
// the bytes QEMU got are the segments in order; the destination's bytes
// are the input; every injected request is one QEMU accepts; and, until
// the parser gave up, QEMU reads each of the destination's requests
// against the block the destination meant. (Past a give-up QEMU reads
// nothing more: it fails its return path on that very message.)
func (tr *traced) check(t testing.TB, input []byte) {
	t.Helper()
	var out, src bytes.Buffer
	var qemuLast, destLast string
	sem := true
	set := newBlockSet(testBlocks)
	for i, s := range tr.segs {
		out.Write(s.out)
		if s.kind == segInject {
			typ, start, n, name := parseReq(t, s.out)
			if typ != msgReqPagesID || set.check(Range{name, start, uint64(n)}) != "" {
				t.Fatalf("segment %d: injected %x, not a valid REQ_PAGES_ID", i, s.out)
			}
			qemuLast = name
			continue
		}
		src.Write(s.in)
		if s.kind == segRaw {
			sem = false
			continue
		}
		if s.kind == segPass && !bytes.Equal(s.in, s.out) {
			t.Fatalf("segment %d: passed %x as %x", i, s.in, s.out)
		}
		if !sem || len(s.in) < headerLen+reqLen {
			continue
		}
		typ, _, _, name := parseReq(t, s.in)
		meant := destLast
		if typ == msgReqPagesID {
			destLast, meant = name, name
		}
		otyp, _, _, oname := parseReq(t, s.out)
		if otyp == msgReqPagesID {
			qemuLast = oname
		}
		if (typ == msgReqPages || typ == msgReqPagesID) && meant != "" && qemuLast != meant {
			t.Fatalf("segment %d: qemu reads the destination's request against %q, meant %q", i, qemuLast, meant)
		}
	}
	if !bytes.Equal(out.Bytes(), tr.out.Bytes()) {
		t.Fatalf("qemu got %x, segments say %x", tr.out.Bytes(), out.Bytes())
	}
	if !bytes.Equal(src.Bytes(), input) {
		t.Fatalf("destination's bytes through: %x, input %x", src.Bytes(), input)
	}
}

// parseReq reads a request message's fields (typ only for others).
func parseReq(t testing.TB, m []byte) (typ uint16, start uint64, n uint32, name string) {
	typ = binary.BigEndian.Uint16(m)
	if typ != msgReqPages && typ != msgReqPagesID {
		return typ, 0, 0, ""
	}
	if len(m) < headerLen+reqLen {
		t.Fatalf("request %x too short", m)
	}
	start, n = binary.BigEndian.Uint64(m[4:]), binary.BigEndian.Uint32(m[12:])
	if typ == msgReqPagesID && len(m) > headerLen+reqLen {
		name = string(m[headerLen+reqLen+1:])
	}
	return typ, start, n, name
}
