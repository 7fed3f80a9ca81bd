package prefetch

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Cut anywhere, twice, the return path reaches QEMU byte for byte.
func TestPassThroughEverySplit(t *testing.T) {
	in := recorded()
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j += 7 {
			tr := newTraced(t, Config{})
			for _, part := range [][]byte{in[:i], in[i:j], in[j:]} {
				if n, err := tr.Write(part); n != len(part) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if err := tr.End(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tr.out.Bytes(), in) {
				t.Fatalf("cut at %d, %d: qemu got %x", i, j, tr.out.Bytes())
			}
			tr.check(t, in)
		}
	}
}

// Injected requests fall between messages wherever the input is cut, and
// QEMU still reads each of the destination's requests against its block.
func TestInjectBetweenMessages(t *testing.T) {
	in := recorded()
	for i := 0; i <= len(in); i++ {
		tr := newTraced(t, Config{})
		tr.plan(testBlocks, []Range{{"vga.vram", 0, 64 << 10}, {"pc.ram", 1 << 20, 256 << 10}})
		tr.Write(in[:i])
		tr.Observe(1 << 30) // all served: inject again at once
		tr.pump()
		tr.Write(in[i:])
		tr.Observe(1 << 30)
		tr.pump()
		tr.End()
		tr.check(t, in)
		st := tr.Stats()
		if st.Requests == 0 && i < len(in) { // past SHUT: none
			t.Fatalf("cut at %d: nothing injected: %+v", i, st)
		}
		// Whole messages: the injected ones start where a message ended.
		msgs := splitMessages(t, tr.out.Bytes())
		if got := bytes.Join(msgs, nil); !bytes.Equal(got, tr.out.Bytes()) {
			t.Fatalf("cut at %d: qemu's bytes are not whole messages", i)
		}
	}
}

// splitMessages frames b as QEMU reads it, failing on a message it refuses.
func splitMessages(t *testing.T, b []byte) [][]byte {
	var msgs [][]byte
	for len(b) > 0 {
		if len(b) < headerLen {
			t.Fatalf("%d bytes left, no header", len(b))
		}
		typ, n := uint16(b[0])<<8|uint16(b[1]), int(b[2])<<8|int(b[3])
		if why := checkHeader(typ, uint16(n)); why != "" || len(b) < headerLen+n {
			t.Fatalf("qemu refuses %x: %s", b[:headerLen], why)
		}
		msgs, b = append(msgs, b[:headerLen+n]), b[headerLen+n:]
	}
	return msgs
}

// A destination's plain REQ_PAGES after an injected request for another
// block goes to QEMU naming the destination's block.
func TestRewriteAfterInjection(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.plan(testBlocks, []Range{{"vga.vram", 0x10000, 0x1000}})
	tr.Write(reqPagesID("pc.ram", 0x4000, 0x1000))
	tr.Observe(pageWire) // the fault's page carried
	tr.pump()
	tr.Write(reqPages(0x5000, 0x1000))
	tr.Write(reqPages(0x6000, 0x1000))
	want := bytes.Join([][]byte{reqPagesID("pc.ram", 0x4000, 0x1000), reqPagesID("vga.vram", 0x10000, 0x1000),
		reqPagesID("pc.ram", 0x5000, 0x1000), reqPages(0x6000, 0x1000)}, nil)
	if !bytes.Equal(tr.out.Bytes(), want) {
		t.Fatalf("qemu got %x\nwant     %x", tr.out.Bytes(), want)
	}
	if st := tr.Stats(); st.Rewritten != 1 || st.Requests != 1 || st.Pages != 1 || st.Stopped != "" {
		t.Fatalf("stats %+v", st)
	}
}

// A destination's request holds injection back until the main channel has
// carried its pages, behind what was injected before it: a burst of
// faults never waits behind new injected pages.
func TestFaultDefersInjection(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.plan(testBlocks, []Range{{"pc.ram", 0x100000, 64 * TargetPage}})
	tr.pump()
	first := tr.Stats().Requests
	if first == 0 {
		t.Fatal("nothing injected")
	}
	tr.Write(reqPagesID("pc.ram", 0x4000, 2*TargetPage)) // a fault of two pages
	tr.Observe(int(tr.outstanding()))                    // what was injected carried
	tr.pump()
	if n := tr.Stats().Requests; n != first {
		t.Fatalf("%d requests injected while the fault's pages were not carried", n-first)
	}
	tr.Observe(2*pageWire - 1)
	tr.pump()
	if n := tr.Stats().Requests; n != first {
		t.Fatal("injected a byte before the fault's pages were carried")
	}
	tr.Observe(1)
	tr.pump()
	if n := tr.Stats().Requests; n == first {
		t.Fatal("injection did not go on once the fault was served")
	}
}

// Input QEMU would refuse passes through untouched from where it starts,
// and stops injection.
func TestMalformedPassesThrough(t *testing.T) {
	for name, bad := range map[string][]byte{
		"long":      rpMsg(msgRecvBitmap, make([]byte, 513)),
		"type":      rpMsg(9, []byte{1, 2}),
		"type 0":    rpMsg(0, nil),
		"fixed len": rpMsg(msgPong, []byte{1}),
		"id len":    append(reqPagesID("pc.ram", 0, 0x1000)[:16], 9, 'x'),
		"short id":  rpMsg(msgReqPagesID, make([]byte, 12)),
	} {
		tr := newTraced(t, Config{})
		tr.plan(testBlocks, []Range{{"pc.ram", 0, 1 << 20}})
		in := append(append(reqPagesID("pc.ram", 0, 0x1000), bad...), reqPages(0x3000, 0x1000)...)
		for i := range in { // one byte at a time
			tr.Write(in[i : i+1])
			tr.pump()
		}
		tr.check(t, in)
		st := tr.Stats()
		if !strings.Contains(st.Stopped, "malformed") {
			t.Errorf("%s: stopped %q", name, st.Stopped)
		}
		if inj := len(tr.out.Bytes()) - len(in); inj != int(st.Requests)*len(reqPagesID("pc.ram", 0, 0)) {
			t.Errorf("%s: %d bytes more than the input, %d requests", name, inj, st.Requests)
		}
	}
}

// A message cut short by the end of the return path reaches QEMU as it is.
func TestTruncatedEnd(t *testing.T) {
	tr := newTraced(t, Config{})
	in := append(pong(1), reqPages(0x1000, 0x1000)[:9]...)
	tr.Write(in)
	if err := tr.End(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tr.out.Bytes(), in) {
		t.Fatalf("qemu got %x, want %x", tr.out.Bytes(), in)
	}
	if _, err := tr.Write(pong(2)); err == nil {
		t.Fatal("Write after End succeeded")
	}
	if st := tr.Stats(); !strings.Contains(st.Stopped, "cut short") {
		t.Fatalf("stopped %q", st.Stopped)
	}
}

// A resumed post-copy stream stops injection; the destination's next
// plain REQ_PAGES names its block, as which QEMU read last is unknown.
func TestResumedStream(t *testing.T) {
	tr := newTraced(t, Config{})
	tr.Write(reqPagesID("pc.ram", 0, 0x1000))
	tr.plan(testBlocks, []Range{{"vga.vram", 0, 0x1000}, {"pc.ram", 0, 128 << 20}})
	var again bytes.Buffer
	w := tr.Attach(&again)
	tr.pump()
	if _, err := tr.Write(pong(1)); err == nil {
		t.Fatal("the old stream's Writer still writes")
	}
	w.Write(reqPages(0x2000, 0x1000))
	if want := reqPagesID("pc.ram", 0x2000, 0x1000); !bytes.Equal(again.Bytes(), want) {
		t.Fatalf("resumed stream got %x, want %x", again.Bytes(), want)
	}
	if st := tr.Stats(); st.Requests != 0 || st.Stopped != "post-copy stream resumed" {
		t.Fatalf("stats %+v", st)
	}
}

// A resumed post-copy's return path: RECV_BITMAP is followed by the
// block's received bitmap as bytes (be64 size, the bitmap, be64 end mark),
// which must pass as they are wherever the input is cut, and the messages
// after it are read again.
func TestRecvBitmapPassesThrough(t *testing.T) {
	bitmap := binary.BigEndian.AppendUint64(nil, 24)
	bitmap = append(bitmap, bytes.Repeat([]byte{0x04, 0x00, 0x10}, 8)...) // looks like a header, is not one
	bitmap = binary.BigEndian.AppendUint64(bitmap, 0x0123456789abcdef)
	in := bytes.Join([][]byte{
		rpMsg(msgRecvBitmap, append([]byte{6}, "pc.ram"...)), bitmap,
		rpMsg(msgResumeAck, make([]byte, 4)),
		reqPagesID("vga.vram", 0x1000, 0x1000), reqPages(0x2000, 0x1000), shut(),
	}, nil)
	for i := 0; i <= len(in); i++ {
		tr := newTraced(t, Config{})
		tr.Write(in[:i])
		tr.Write(in[i:])
		tr.End()
		if !bytes.Equal(tr.out.Bytes(), in) {
			t.Fatalf("cut at %d: qemu got %x", i, tr.out.Bytes())
		}
		if st := tr.Stats(); strings.HasPrefix(st.Stopped, "malformed") {
			t.Fatalf("cut at %d: %s", i, st.Stopped)
		}
		if tr.destBlock != "vga.vram" {
			t.Fatalf("cut at %d: the messages after the bitmap were not read (block %q)", i, tr.destBlock)
		}
	}
}

// A bitmap size no block could have: the rest passes through untouched.
func TestRecvBitmapTooLarge(t *testing.T) {
	in := append(rpMsg(msgRecvBitmap, append([]byte{6}, "pc.ram"...)), binary.BigEndian.AppendUint64(nil, 1<<40)...)
	in = append(in, reqPages(0x2000, 0x1000)...)
	tr := newTraced(t, Config{})
	tr.Write(in)
	tr.End()
	if !bytes.Equal(tr.out.Bytes(), in) || !strings.Contains(tr.Stats().Stopped, "bitmap") {
		t.Fatalf("qemu got %x, stopped %q", tr.out.Bytes(), tr.Stats().Stopped)
	}
}
