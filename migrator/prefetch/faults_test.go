package prefetch

import "testing"

// The destination's own requests are sorted by what the working set knew:
// before injection, asked for already, not reached yet, not in it.
func TestFaultsClassified(t *testing.T) {
	tr := newTraced(t, Config{Window: 2 * 16 * pageWire, ChunkPages: 16})
	send := func(b []byte) {
		t.Helper()
		if _, err := tr.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(reqPagesID("pc.ram", 0x500000, 0x1000)) // device load, before Start
	// Hottest first: 0x100000 (64 KiB: one chunk), then 0x10000 (512 KiB).
	tr.plan(testBlocks, []Range{{"pc.ram", 0x100000, 0x10000}, {"pc.ram", 0x10000, 0x80000}})
	tr.Observe(pageWire)                                // the device load's page went: injection may begin
	tr.pump()                                           // two chunks: all of the first range, 64 KiB of the second
	send(reqPagesID("pc.ram", 0x100000+0x3000, 0x1000)) // asked (first range)
	send(reqPages(0x10000+0x2000, 0x1000))              // asked (second range's first chunk)
	send(reqPages(0x10000+0x40000, 0x1000))             // ahead
	send(reqPages(0x200000, 0x1000))                    // outside: after both
	send(reqPages(0x0, 0x1000))                         // outside: before both
	send(reqPagesID("vga.vram", 0x10000, 0x1000))       // outside: another block
	got := tr.Stats().Faults
	if want := (Faults{Before: 1, Asked: 2, Ahead: 1, Outside: 3}); got != want {
		t.Errorf("faults %+v, want %+v", got, want)
	}
}
