package prefetch

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// The destination's own requests are sorted by what the working set knew:
// before injection, asked for already, not reached yet, not in it.
func TestFaultsClassified(t *testing.T) {
	tr := newTraced(t, Config{Window: 2 * 16 * pageWire, ChunkPages: 16})
	var logs bytes.Buffer
	tr.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
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
	// At debug level each is logged with its place in the order and
	// injection's: the ahead one 64 KiB + 256 KiB down, injection at 128 KiB.
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "destination page request") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 6 {
		t.Fatalf("%d fault logs, want 6 (every request after Start):\n%s", len(lines), logs.String())
	}
	if want := "class=ahead prefetch_at_mib=0.125 order_mib=0.3125"; !strings.Contains(lines[2], want) {
		t.Errorf("log %q, want %q in it", lines[2], want)
	}
}
