package vnf

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
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

// Fill selects what page payloads contain.
type Fill int

// Payload kinds.
const (
	FillRandom  Fill = iota // pseudo-random, incompressible
	FillZero                // all zero
	FillPattern             // one 8-byte word per page repeated: compressible but not zero
)

// ParseFill parses "random", "zero" or "pattern".
func ParseFill(s string) (Fill, error) {
	switch s {
	case "random", "":
		return FillRandom, nil
	case "zero":
		return FillZero, nil
	case "pattern":
		return FillPattern, nil
	}
	return 0, fmt.Errorf("unknown fill %q (want random, zero or pattern)", s)
}

func (f Fill) String() string {
	return [...]string{"random", "zero", "pattern"}[f]
}

// pageState is the verdict on one page.
type pageState int

const (
	pageOK pageState = iota
	pageUnwritten
	pageCorrupt // checksum, index or a generation from the future
	pageStale   // intact but older than expected
)

// memory is the working set: one big allocation of pages plus, apart from
// it, the generation each page is expected to carry. It is not safe for
// concurrent use; the counters are atomic so Status may read them anytime.
type memory struct {
	buf      []byte
	expected []uint64 // 0 = never written
	fill     Fill

	written, verified, corrupt, stale atomic.Uint64
}

func newMemory(pages int, fill Fill) *memory {
	return &memory{buf: make([]byte, pages*PageSize), expected: make([]uint64, pages), fill: fill}
}

func (m *memory) pages() int { return len(m.expected) }

func (m *memory) page(i int) []byte { return m.buf[i*PageSize : (i+1)*PageSize : (i+1)*PageSize] }

// write rewrites page i with the next generation and a fresh payload.
func (m *memory) write(i int) {
	gen := m.expected[i] + 1
	p := m.page(i)
	binary.LittleEndian.PutUint64(p[offIndex:], uint64(i))
	binary.LittleEndian.PutUint64(p[offGen:], gen)
	fillPayload(p[headerLen:], m.fill, uint64(i), gen)
	binary.LittleEndian.PutUint32(p[offCRC:], checksum(p))
	m.expected[i] = gen
	m.written.Add(1)
}

// verify checks page i and counts the outcome.
func (m *memory) verify(i int) pageState {
	want := m.expected[i]
	if want == 0 {
		return pageUnwritten
	}
	m.verified.Add(1)
	p := m.page(i)
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

func checksum(p []byte) uint32 {
	c := crc32.Update(0, castagnoli, p[:offCRC])
	return crc32.Update(c, castagnoli, p[headerLen:])
}

func fillPayload(b []byte, f Fill, index, gen uint64) {
	seed := index*0x9e3779b97f4a7c15 ^ gen*0xbf58476d1ce4e5b9
	switch f {
	case FillZero:
		clear(b)
	case FillPattern:
		w := wyrand(&seed)
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], w)
		}
	default:
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], wyrand(&seed))
		}
	}
}

// wyrand is a small fast PRNG (Wang Yi's wyrand): cheap enough under TCG.
func wyrand(s *uint64) uint64 {
	*s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(*s, *s^0xe7037ed1a0b428db)
	return hi ^ lo
}
