package wsguest

import (
	"math"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// ranges coalesces frames, in the order they come, into at most
// wsreport.MaxRanges ranges; frames beyond that are counted as left out.
type ranges struct {
	rs      []wsreport.Range
	sealed  int    // ranges before this one are not extended
	dropped uint64 // frames left out for want of room
	limit   int    // of ranges; 0: wsreport.MaxRanges
}

func (r *ranges) add(pfn uint64) {
	if n := len(r.rs); n > r.sealed {
		last := &r.rs[n-1]
		if last.End() == pfn && last.Count < math.MaxUint32 {
			last.Count++
			return
		}
	}
	if len(r.rs) >= r.max() || pfn >= wsreport.MaxFrame {
		r.dropped++
		return
	}
	r.rs = append(r.rs, wsreport.Range{Start: pfn, Count: 1})
}

// addRanges adds the ranges of rs, in order, as add would frame by frame,
// and counts those rs left out as left out here too.
func (r *ranges) addRanges(rs ranges) {
	for _, x := range rs.rs {
		if n := len(r.rs); n > r.sealed && r.rs[n-1].End() == x.Start && uint64(r.rs[n-1].Count)+uint64(x.Count) <= math.MaxUint32 {
			r.rs[n-1].Count += x.Count
			continue
		}
		if len(r.rs) >= r.max() || x.End() > wsreport.MaxFrame {
			r.dropped += uint64(x.Count)
			continue
		}
		r.rs = append(r.rs, x)
	}
	r.dropped += rs.dropped
}

// max is the most ranges r holds.
func (r *ranges) max() int {
	if r.limit > 0 {
		return min(r.limit, wsreport.MaxRanges)
	}
	return wsreport.MaxRanges
}

// seal keeps the ranges so far apart from those to come: the working
// set's last range must not grow into other memory.
func (r *ranges) seal() { r.sealed = len(r.rs) }

// reset empties r, keeping its room.
func (r *ranges) reset() {
	r.rs, r.sealed, r.dropped = r.rs[:0], 0, 0
}
