package prefetch

import "fmt"

// Block is one of the source QEMU's RAM blocks.
type Block struct {
	Name     string // idstr, e.g. "pc.ram"
	Used     uint64 // used length in bytes: requests must stay inside it
	PageSize uint64 // host page size backing the block (0: TargetPage)
}

// Range is part of a block to send first: Len bytes from Start (an
// offset inside the block, not a guest-physical address).
type Range struct {
	Block      string
	Start, Len uint64
}

// Why a range is refused (Stats.Refused's keys).
const (
	RefusedUnknownBlock = "unknown block"
	RefusedMisaligned   = "misaligned"
	RefusedOutOfRange   = "out of range"
	RefusedEmpty        = "empty"
)

// blockSet looks blocks up by name.
type blockSet map[string]Block

func newBlockSet(blocks []Block) blockSet {
	s := make(blockSet, len(blocks))
	for _, b := range blocks {
		if b.PageSize == 0 {
			b.PageSize = TargetPage
		}
		if b.Name != "" && len(b.Name) <= 255 && b.PageSize%TargetPage == 0 {
			s[b.Name] = b
		}
	}
	return s
}

// check says why QEMU would refuse a request for r ("" if it would not):
// ram_save_queue_pages fails on an unknown block or one overrun, the
// return path on a start or length not in whole host pages.
func (s blockSet) check(r Range) string {
	b, ok := s[r.Block]
	switch {
	case !ok:
		return RefusedUnknownBlock
	case r.Len == 0:
		return RefusedEmpty
	case r.Start%b.PageSize != 0 || r.Len%b.PageSize != 0:
		return RefusedMisaligned
	case r.Start >= b.Used || r.Len > b.Used-r.Start:
		return RefusedOutOfRange
	}
	return ""
}

// chunkLen is the bytes of one request in b: n target pages, in whole
// pages of the block.
func (s blockSet) chunkLen(block string, n int) uint64 {
	ps := s[block].PageSize
	l := uint64(n) * TargetPage
	return max(ps, l-l%ps)
}

// pages is the target pages in n bytes, rounded up.
func pages(n uint64) int64 { return int64((n + TargetPage - 1) / TargetPage) }

func (r Range) String() string {
	return fmt.Sprintf("%s+%#x/%#x", r.Block, r.Start, r.Len)
}
