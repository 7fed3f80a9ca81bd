package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// handoffShort is the hand-off in one line, for progress:
// "hand-off: buffered 31 held 4 forwarded 2 dropped 0"; "" before it starts.
func handoffShort(h *api.HandoffReport) string {
	if h == nil {
		return ""
	}
	return fmt.Sprintf("hand-off: buffered %d held %d forwarded %d dropped %d",
		h.Source.Buffered, h.Destination.Held, h.Source.Forwarded, handoffDropped(h))
}

func handoffDropped(h *api.HandoffReport) uint64 {
	return h.Source.DroppedTotal() + h.Destination.DroppedTotal()
}

// handoffVerdict is the verdict block's hand-off line: buffered, flushed,
// held, forwarded, dropped by reason, GARPs, queue high-water and time in
// BUFFER.
func handoffVerdict(h *api.HandoffReport) string {
	s, d := h.Source, h.Destination
	f := []string{
		fmt.Sprintf("buffered %d", s.Buffered),
		fmt.Sprintf("flushed %d", s.Flushed),
		fmt.Sprintf("held %d", d.Held),
		fmt.Sprintf("forwarded %d", s.Forwarded),
		"dropped " + fmtDropped(h),
		fmt.Sprintf("GARPs %d", d.GARPs),
		"high-water " + fmtBytes(uint64(max(s.HighWaterBytes, d.HighWaterBytes))),
		"BUFFER " + dur(s.Modes["buffer"]),
	}
	return strings.Join(f, ", ")
}

// fmtDropped is "0", or "3 (ring_full 2 (source), tap_full 1 (destination))".
func fmtDropped(h *api.HandoffReport) string {
	n := handoffDropped(h)
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", n, verify.DropReasons(h))
}

// printHandoff writes the summary's hand-off block into a table.
func printHandoff(tw io.Writer, m api.Migration) {
	h := m.Handoff
	if h == nil {
		fmt.Fprintf(tw, "  hand-off:\tnone\n")
		return
	}
	s, d := h.Source, h.Destination
	fmt.Fprintf(tw, "  hand-off:\tdropped %s\n", fmtDropped(h))
	fmt.Fprintf(tw, "    source:\tmirrored %d, buffered %d, tap residue %d, held by QEMU %d, flushed %d, forwarded %d, returned %d\n",
		s.Mirrored, s.Buffered, s.Residue, s.HeldInQEMU, s.Flushed, s.Forwarded, s.Returned)
	if api.Ended(m.State) || d.Held+d.Flushed+d.Released+d.ForwardedIn > 0 || d.GARPs > 0 {
		extra := ""
		if d.ARPAnswered > 0 { // only when its traffic was held long enough for a sender to ask
			extra = fmt.Sprintf(", ARP answered %d", d.ARPAnswered)
		}
		if d.RollbackFlooded > 0 { // only after a rollback: broadcasts the source's guest had too
			extra += fmt.Sprintf(", flooded frames let go on rollback %d", d.RollbackFlooded)
		}
		fmt.Fprintf(tw, "    destination:\theld %d, released %d, injected from the flush %d, forwarded in %d, GARPs %d%s\n",
			d.Held, d.Released, d.Flushed, d.ForwardedIn, d.GARPs, extra)
	}
	fmt.Fprintf(tw, "    high-water:\tsource queue %s, destination queue %s\n", fmtBytes(uint64(s.HighWaterBytes)), fmtBytes(uint64(d.HighWaterBytes)))
	if modes := fmtModes(s.Modes, d.Modes); modes != "" {
		fmt.Fprintf(tw, "    modes:\t%s\n", modes)
	}
}

// fmtModes prints the time in each mode, in the order a migration passes
// through them: "source mirror 2.1s, buffer 38ms, forward 10s; destination hold 2.2s".
func fmtModes(src, dst map[string]api.Duration) string {
	order := []string{"mirror", "buffer", "forward", "hold", "release"}
	one := func(m map[string]api.Duration) string {
		var f []string
		keys := slices.Sorted(maps.Keys(m))
		slices.SortStableFunc(keys, func(a, b string) int {
			ia, ib := slices.Index(order, a), slices.Index(order, b)
			if ia < 0 {
				ia = len(order)
			}
			if ib < 0 {
				ib = len(order)
			}
			return ia - ib
		})
		for _, k := range keys {
			f = append(f, k+" "+fmtDuration(time.Duration(m[k])))
		}
		return strings.Join(f, ", ")
	}
	var parts []string
	if s := one(src); s != "" {
		parts = append(parts, "source "+s)
	}
	if s := one(dst); s != "" {
		parts = append(parts, "destination "+s)
	}
	return strings.Join(parts, "; ")
}
