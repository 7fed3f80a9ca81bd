package vnf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
)

// PageSize is the size of one workload page.
const PageSize = 4096

// Page header: index (8), generation (8), CRC-32C (4), reserved (4), all
// little-endian; the checksum covers index, generation and payload.
const (
	offIndex   = 0
	offGen     = 8
	offCRC     = 16
	headerLen  = 24
	payloadLen = PageSize - headerLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// pageState is the verdict on one page.
type pageState int

const (
	pageOK pageState = iota
	pageUnwritten
	pageCorrupt // checksum, index or a generation from the future; a zero page not zero
	pageStale   // intact but older than expected
)

// pageKind is what a page holds. The first three are the Fills; the others
// are the kinds of a Mix.
type pageKind uint8

const (
	kindRandom   pageKind = iota // FillRandom
	kindZeroFill                 // FillZero: a header, then zeros
	kindPattern                  // FillPattern
	kindShared                   // Mix.Shared: code-like, alike across VMs
	kindUnique                   // Mix.Unique: random, from the unique seed
	kindText                     // Mix.Text: words, from the unique seed
	kindZero                     // Mix.Zero: all zero, no header, never dirtied
)

// region is a run of pages of one kind that ends before page end.
type region struct {
	end  int
	kind pageKind
}

// memory is the working set: one big allocation of pages plus, apart from
// it, the generation each page is expected to carry. It is not safe for
// concurrent use, but for two things: the counters are atomic so Status may
// read them anytime, and a page's index word is stored atomically so a
// flowTable may load it (loadIndex) while the workload writes.
type memory struct {
	buf      []byte
	expected []uint64 // 0 = never written
	regions  []region // in page order, the zero pages last
	// dirtyable is the number of pages the dirtier rewrites: those before
	// the zero pages.
	dirtyable int
	payloads

	written, verified, corrupt, stale atomic.Uint64
}

// newMemory is pages pages of fill, in buf if it is not nil (at least that
// large, page-aligned, never written) and from the heap otherwise.
func newMemory(pages int, fill Fill, buf []byte) *memory {
	return allocMemory([]region{{pages, pageKind(fill)}}, payloads{}, buf)
}

// newMixedMemory lays out mix: shared, unique, text and zero pages in this
// order, so the shared pages sit at the same indices in every VM with the
// same Mix.Shared; in buf as newMemory's.
func newMixedMemory(mix Mix, sharedSeed, uniqueSeed uint64, buf []byte) *memory {
	const pagesPerMB = (1 << 20) / PageSize
	var regions []region
	end := 0
	for i, mb := range mix.sizes() {
		if *mb > 0 {
			end += *mb * pagesPerMB
			regions = append(regions, region{end, kindShared + pageKind(i)})
		}
	}
	return allocMemory(regions, newPayloads(mix, sharedSeed, uniqueSeed), buf)
}

func allocMemory(regions []region, p payloads, buf []byte) *memory {
	pages := 0
	if len(regions) > 0 {
		pages = regions[len(regions)-1].end
	}
	if buf == nil {
		buf = make([]byte, pages*PageSize)
	}
	m := &memory{buf: buf[: pages*PageSize : pages*PageSize], expected: make([]uint64, pages),
		regions: regions, dirtyable: pages, payloads: p}
	if n := len(regions); n > 0 && regions[n-1].kind == kindZero {
		m.dirtyable = 0
		if n > 1 {
			m.dirtyable = regions[n-2].end
		}
	}
	return m
}

func (m *memory) pages() int { return len(m.expected) }

// hotPart is what the guest reports as its working set first: the first
// hot pages, or all of the memory (hot 0).
func (m *memory) hotPart(hot int) []byte {
	if hot > 0 {
		return m.buf[:hot*PageSize]
	}
	return m.buf
}

// coldPart is the working set beyond hotPart: written in order by the
// sweep, if at all (nil when all of it is hot).
func (m *memory) coldPart(hot int) []byte {
	if hot > 0 {
		return m.buf[hot*PageSize:]
	}
	return nil
}

func (m *memory) page(i int) []byte { return m.buf[i*PageSize : (i+1)*PageSize : (i+1)*PageSize] }

func (m *memory) kind(i int) pageKind {
	for _, r := range m.regions {
		if i < r.end {
			return r.kind
		}
	}
	panic(fmt.Sprintf("page %d beyond the working set (%d pages)", i, m.pages()))
}

// write rewrites page i with the next generation and a fresh payload of its
// kind. A zero page is cleared instead (which also makes the guest kernel
// back it: memory never touched is not in the guest's RAM) and stays at
// generation 1: it has no header to carry more.
func (m *memory) write(i int) {
	k := m.kind(i)
	p := m.page(i)
	if k == kindZero {
		clear(p)
		m.expected[i] = 1
		m.written.Add(1)
		return
	}
	gen := m.expected[i] + 1
	m.storeIndex(i) // atomically: a flowTable reads it concurrently
	binary.LittleEndian.PutUint64(p[offGen:], gen)
	m.fillPayload(p[headerLen:], k, uint64(i), gen)
	binary.LittleEndian.PutUint32(p[offCRC:], checksum(p))
	m.expected[i] = gen
	m.written.Add(1)
}

// verify checks page i and counts the outcome. A zero page is corrupt
// unless every byte is zero.
func (m *memory) verify(i int) pageState {
	want := m.expected[i]
	if want == 0 {
		return pageUnwritten
	}
	m.verified.Add(1)
	p := m.page(i)
	if m.kind(i) == kindZero {
		if !bytes.Equal(p, zeroPage[:]) {
			m.corrupt.Add(1)
			return pageCorrupt
		}
		return pageOK
	}
	gen := binary.LittleEndian.Uint64(p[offGen:])
	switch {
	case binary.LittleEndian.Uint32(p[offCRC:]) != checksum(p),
		binary.LittleEndian.Uint64(p[offIndex:]) != uint64(i),
		gen > want:
		m.corrupt.Add(1)
		return pageCorrupt
	case gen < want:
		m.stale.Add(1)
		return pageStale
	}
	return pageOK
}

var zeroPage [PageSize]byte

func checksum(p []byte) uint32 {
	c := crc32.Update(0, castagnoli, p[:offCRC])
	return crc32.Update(c, castagnoli, p[headerLen:])
}
