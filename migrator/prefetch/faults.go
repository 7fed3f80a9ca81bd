package prefetch

import (
	"cmp"
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
)

// Faults sorts the destination's own page requests (its guest's faults
// and its QEMU's, e.g. loading a device) by what the working set knew of
// them: where the prefetch helped, came late, or could not know.
type Faults struct {
	Before  int64 // before injection started (the destination loading its devices)
	Asked   int64 // in the working set and asked for already: on their way, not there yet
	Ahead   int64 // in the working set, not asked for yet: the prefetch had not got there
	Outside int64 // not in the working set (the report missed them)
}

// placed is a planned range with its place in the injection order.
type placed struct {
	Range
	order int
}

// index sorts the planned ranges by block and start, for classify, and
// notes the bytes planned before each (logFault).
func (in *Injector) index() {
	in.sorted = make([]placed, len(in.ranges))
	in.before = make([]uint64, len(in.ranges)+1)
	for i, r := range in.ranges {
		in.sorted[i] = placed{r, i}
		in.before[i+1] = in.before[i] + r.Len
	}
	slices.SortFunc(in.sorted, func(a, b placed) int {
		if c := strings.Compare(a.Block, b.Block); c != 0 {
			return c
		}
		return cmp.Compare(a.Start, b.Start)
	})
}

// classify counts a destination's request (req: be64 start, be32 length)
// in block. Only after a plan with ranges, and before that as Before.
func (in *Injector) classify(block string, req []byte) {
	if !in.started {
		in.stats.Faults.Before++
		return
	}
	if len(in.sorted) == 0 || len(req) < reqLen {
		return
	}
	start := binary.BigEndian.Uint64(req)
	i, _ := slices.BinarySearchFunc(in.sorted, start, func(p placed, start uint64) int {
		if c := strings.Compare(p.Block, block); c != 0 {
			return c
		}
		if p.Start+p.Len <= start {
			return -1
		}
		return 1
	})
	if i == len(in.sorted) || in.sorted[i].Block != block || in.sorted[i].Start > start {
		in.stats.Faults.Outside++
		in.logFault(block, start, "outside", 0)
		return
	}
	p := in.sorted[i]
	if in.done || p.order < in.next || p.order == in.next && start-p.Start < in.off {
		in.stats.Faults.Asked++
		in.logFault(block, start, "asked", in.before[p.order]+start-p.Start)
		return
	}
	in.stats.Faults.Ahead++
	in.logFault(block, start, "ahead", in.before[p.order]+start-p.Start)
}

// logFault logs (debug) a destination's request after injection began and
// where it was in the order against where injection was: which of the
// report's parts a guest touches before they arrive (a few dozen a move).
func (in *Injector) logFault(block string, start uint64, class string, pos uint64) {
	if !in.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	reached := in.before[len(in.ranges)]
	if !in.done && in.next < len(in.ranges) {
		reached = in.before[in.next] + in.off
	}
	attrs := []any{"block", block, "offset", start, "class", class, "prefetch_at_mib", float64(reached) / (1 << 20)}
	if class != "outside" {
		attrs = append(attrs, "order_mib", float64(pos)/(1<<20))
	}
	in.log.Debug("destination page request", attrs...)
}
