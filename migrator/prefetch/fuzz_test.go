package prefetch

import (
	"bytes"
	"testing"
)

// FuzzReturnPath feeds any return path, cut at the fuzzer's points, with
// injection attempted at each cut: QEMU gets the destination's bytes
// whole plus valid requests between messages, and reads each of the
// destination's requests against the block it meant (check).
func FuzzReturnPath(f *testing.F) {
	f.Add(recorded(), []byte{3, 40, 90})
	f.Add(append(reqPagesID("pc.ram", 0, 0x1000), reqPages(0x1000, 0x1000)...), []byte{16, 17})
	f.Add(append(recorded()[:30], rpMsg(msgRecvBitmap, make([]byte, 600))...), []byte{1})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		tr := newTraced(t, Config{ChunkPages: 1, Window: 2 * pageWire})
		tr.plan(testBlocks, []Range{{"vga.vram", 0, 0x3000}, {"pc.ram", 0x10000, 0x4000}, {"mem1", 0, 2 << 20}})
		rest := data
		for _, c := range cuts {
			k := min(int(c), len(rest))
			if n, err := tr.Write(rest[:k]); n != k || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			rest = rest[k:]
			tr.Observe(int(c) * 512)
			tr.pump()
		}
		tr.Write(rest)
		tr.pump()
		if err := tr.End(); err != nil {
			t.Fatal(err)
		}
		tr.check(t, data)
		if st := tr.Stats(); st.Stopped == "" && !bytes.Equal(tr.out.Bytes(), data) && st.Requests == 0 && st.Rewritten == 0 {
			t.Fatalf("qemu's bytes changed with nothing injected or rewritten")
		}
	})
}
