package wsreport

import (
	"slices"
	"sort"
)

// Checked is a report made safe to act on: its ranges lie inside the
// guest's RAM and are disjoint, in the report's priority order.
type Checked struct {
	Ranges []Range
	Hot    int    // leading ranges from the report's working set proper
	Pages  uint64 // frames covered, at most the RAM's
	// Dropped counts the report's ranges left out entirely (beyond RAM,
	// or covered by earlier ranges); Clipped those cut short.
	Dropped, Clipped int
}

// Validate checks r against a guest of ramBytes of RAM. A frame is kept
// for the first range that names it: a range beyond RAM is dropped, one
// that runs past its end or over earlier ranges is cut to what is left
// (possibly into several ranges). So no frame is named twice and the
// pages never exceed the RAM, whatever the guest sent. The work is
// O(n log n) in the ranges, whatever their sizes.
//
// RAM is taken as frames [0, ramBytes/FrameSize): true for guests below
// the PCI hole; the consumer maps frames onto QEMU's RAM blocks.
func Validate(r Report, ramBytes uint64) Checked {
	limit := ramBytes / FrameSize
	// Clip to RAM, and collect the ends of what is left.
	clipped := make([]Range, len(r.Ranges))
	pts := make([]uint64, 0, 2*len(r.Ranges))
	for i, x := range r.Ranges {
		if x.Start >= limit {
			continue // Count 0: dropped below
		}
		if x.End() > limit {
			x.Count = uint32(limit - x.Start)
		}
		clipped[i] = x
		pts = append(pts, x.Start, x.End())
	}
	slices.Sort(pts)
	pts = slices.Compact(pts)
	// Segment j is [pts[j], pts[j+1]); next[j] is the first segment from
	// j on that no earlier range took (union-find with path halving).
	next := make([]int32, len(pts))
	for j := range next {
		next[j] = int32(j)
	}
	find := func(j int32) int32 {
		for next[j] != j {
			next[j] = next[next[j]]
			j = next[j]
		}
		return j
	}
	var c Checked
	for i, x := range clipped {
		before := len(c.Ranges)
		var got uint64
		if x.Count > 0 {
			a := int32(sort.Search(len(pts), func(k int) bool { return pts[k] >= x.Start }))
			b := int32(sort.Search(len(pts), func(k int) bool { return pts[k] >= x.End() }))
			for j := find(a); j < b; j = find(j) {
				seg := Range{Start: pts[j], Count: uint32(pts[j+1] - pts[j])}
				if n := len(c.Ranges); n > before && c.Ranges[n-1].End() == seg.Start {
					c.Ranges[n-1].Count += seg.Count // a run of one range's segments
				} else {
					c.Ranges = append(c.Ranges, seg)
				}
				got += uint64(seg.Count)
				next[j] = j + 1
			}
		}
		switch {
		case got == 0:
			c.Dropped++
		case got < uint64(r.Ranges[i].Count):
			c.Clipped++
		}
		c.Pages += got
		if i < r.Hot {
			c.Hot = len(c.Ranges)
		}
	}
	return c
}
