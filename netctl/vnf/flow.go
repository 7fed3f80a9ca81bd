package vnf

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// flowTable is the vnf's per-packet work with Config.FlowLookups: before
// a reflector answers a test packet it looks up that many entries
// of a table that is the working set's hot part (all of it without one),
// one entry a page, as a firewall's, NAT's or load balancer's flow lookups
// read their tables, which are what such a function keeps hot. An entry's
// key is its page's index, which the workload writes into every page's
// header; a lookup reads and compares it.
//
// Which entries a packet reads follows from its sender sequence number: the
// test traffic is one flow, but a real function's table is hit by many,
// and a table read at a few fixed entries would stand in for none of them
// (after a post-copy switch it would fault those few pages once and be
// done). Hashing the sequence number spreads the lookups over the whole
// table as many flows would, so a guest that runs on a host still missing
// its hot part stalls on packet after packet, and reflects at its rate
// again only once the table has arrived: its recovery says how soon the
// working set did.
//
// The in-kernel reflector does the same lookups in its program
// (bpf/twamp_reflect.c, the same hash), on the same pages: the working set
// is then its flow table, mapped. This type is the socket reflector's
// (test packets the program leaves to it, or all of them without it).
//
// The lookups run in the reflector's goroutine while the workload rewrites
// the same pages; they only load the index word, which memory.write stores
// atomically (and never changes), so they need no lock.
type flowTable struct {
	mem     *memory
	entries int // the table: the working set's first entries pages
	lookups int // entries read per packet
}

func newFlowTable(mem *memory, entries, lookups int) *flowTable {
	return &flowTable{mem: mem, entries: entries, lookups: lookups}
}

// lookup reads the packet's entries and returns how many held their key
// (fewer while pages are not written yet). packet is a TWAMP-light
// sender's, at least its 4-octet sequence number long.
func (f *flowTable) lookup(packet []byte) int {
	if f.entries == 0 || len(packet) < 4 {
		return 0
	}
	seq := uint64(binary.BigEndian.Uint32(packet))
	found := 0
	for i := range f.lookups {
		e := f.entry(seq, i)
		if f.mem.loadIndex(e) == uint64(e) {
			found++
		}
	}
	return found
}

// entry is the page of a packet's i-th lookup.
func (f *flowTable) entry(seq uint64, i int) int {
	return int(mix64(seq*uint64(f.lookups)+uint64(i)) % uint64(f.entries))
}

// mix64 is SplitMix64's finalizer: consecutive inputs land far apart.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// storeIndex writes page i's index into its header atomically, so that a
// flowTable may read it while the workload rewrites the page.
func (m *memory) storeIndex(i int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	atomic.StoreUint64(m.indexWord(i), binary.NativeEndian.Uint64(b[:]))
}

// loadIndex reads the index in page i's header atomically.
func (m *memory) loadIndex(i int) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], atomic.LoadUint64(m.indexWord(i)))
	return binary.LittleEndian.Uint64(b[:])
}

// indexWord is page i's index word; pages start 8-aligned, as the buffer
// does.
func (m *memory) indexWord(i int) *uint64 {
	return (*uint64)(unsafe.Pointer(&m.page(i)[offIndex]))
}
