package prefetch

import "math/bits"

// dirtySet is the pages the source QEMU still has to send in post-copy:
// the ranges of its RAM_DISCARD commands (ram.c sends its dirty bitmap
// after the last sync, when the guest has stopped) less the pages sent
// since. Nothing dirties the source's memory after the switch, so it only
// shrinks. Unknown (no discard seen, or too large to keep) means every
// page is assumed dirty, as the byte model does.
type dirtySet struct {
	blocks map[string][]uint64 // a bit per target page
	words  int                 // words allocated, all blocks
	broken bool                // a discard past maxDirtyWords: not kept
}

// maxDirtyWords bounds the bitmaps: 1 TiB of RAM in 4 KiB pages.
const maxDirtyWords = 1 << 22

// known: the set may be trusted to skip clean pages.
func (d *dirtySet) known() bool { return d.blocks != nil && !d.broken }

// add marks n bytes from start of block dirty (whole target pages).
func (d *dirtySet) add(block string, start, n uint64) {
	if d.broken || n == 0 {
		return
	}
	first, end := start/TargetPage, (start+n+TargetPage-1)/TargetPage
	if end < first || end > maxDirtyWords*64 {
		d.broken = true
		return
	}
	if d.blocks == nil {
		d.blocks = map[string][]uint64{}
	}
	bm := d.blocks[block]
	if need := int((end + 63) / 64); need > len(bm) {
		if d.words+need-len(bm) > maxDirtyWords {
			d.broken = true
			return
		}
		d.words += need - len(bm)
		bm = append(bm, make([]uint64, need-len(bm))...)
		d.blocks[block] = bm
	}
	for p := first; p < end; p++ {
		bm[p/64] |= 1 << (p % 64)
	}
}

// clear notes the page at off of block sent.
func (d *dirtySet) clear(block string, off uint64) {
	bm, p := d.blocks[block], off/TargetPage
	if p/64 < uint64(len(bm)) {
		bm[p/64] &^= 1 << (p % 64)
	}
}

// has: the page at off of block is still to be sent.
func (d *dirtySet) has(block string, off uint64) bool {
	bm, p := d.blocks[block], off/TargetPage
	return p/64 < uint64(len(bm)) && bm[p/64]&(1<<(p%64)) != 0
}

// next is the first page still to be sent in [from, to) of block, and its
// run's end (at most to); found false if none.
func (d *dirtySet) next(block string, from, to uint64) (start, end uint64, found bool) {
	bm := d.blocks[block]
	p, last := from/TargetPage, min(to/TargetPage, uint64(len(bm))*64)
	for p < last {
		w := bm[p/64] >> (p % 64)
		if w == 0 {
			p += 64 - p%64
			continue
		}
		p += uint64(bits.TrailingZeros64(w))
		break
	}
	if p >= last {
		return 0, 0, false
	}
	e := p + 1
	for e < last && bm[e/64]&(1<<(e%64)) != 0 {
		e++
	}
	return p * TargetPage, e * TargetPage, true
}

// count is the pages still to be sent in [from, to) of block.
func (d *dirtySet) count(block string, from, to uint64) int64 {
	var n int64
	for off := from; off < to; off += TargetPage {
		if d.has(block, off) {
			n++
		}
	}
	return n
}
