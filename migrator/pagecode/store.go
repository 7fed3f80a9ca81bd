package pagecode

// store is one end's content store: slots of page content and their names.
// The destination's is written only by the frames; the source's mirrors it
// exactly and also picks the slots (CLOCK, so content in use stays).
type store struct {
	names []Name
	used  []bool
	// chunks hold the content, chunkSlots slots each, allocated on first
	// use: a migration that codes little costs little memory.
	chunks [][]byte
}

const chunkSlots = 256 // 1 MiB

func newStore(slots int) *store {
	return &store{names: make([]Name, slots), used: make([]bool, slots),
		chunks: make([][]byte, (slots+chunkSlots-1)/chunkSlots)}
}

func (s *store) slots() int { return len(s.names) }

// page is slot's content (zeros if never stored).
func (s *store) page(slot int) []byte {
	c := &s.chunks[slot/chunkSlots]
	if *c == nil {
		*c = make([]byte, chunkSlots*PageSize)
	}
	i := slot % chunkSlots * PageSize
	return (*c)[i : i+PageSize : i+PageSize]
}

// holds says whether slot holds content named n.
func (s *store) holds(slot int, n Name) bool { return s.used[slot] && s.names[slot] == n }

func (s *store) put(slot int, n Name, page []byte) {
	copy(s.page(slot), page)
	s.names[slot], s.used[slot] = n, true
}

// mirror is the source's store: the destination's store plus an index by
// name and the CLOCK that chooses victims.
type mirror struct {
	*store
	index map[Name]int
	ref   []bool
	hand  int
}

func newMirror(slots int) *mirror {
	return &mirror{store: newStore(slots), index: make(map[Name]int), ref: make([]bool, slots)}
}

// lookup finds content named n and marks it used.
func (m *mirror) lookup(n Name) (int, bool) {
	slot, ok := m.index[n]
	if ok {
		m.ref[slot] = true
	}
	return slot, ok
}

// victim picks the slot the next content goes to, never keep (a delta's
// base) nor one ok refuses: an empty one while any is left, then the
// first one the clock hand finds not used since it last passed. -1 if
// two turns of the hand found none.
func (m *mirror) victim(keep int, ok func(int) bool) int {
	for range 2 * m.slots() {
		s := m.hand
		m.hand = (m.hand + 1) % m.slots()
		if s == keep || !ok(s) {
			continue
		}
		if m.ref[s] && m.used[s] {
			m.ref[s] = false
			continue
		}
		return s
	}
	return -1
}

// put stores content named n in slot, dropping what slot held.
func (m *mirror) put(slot int, n Name, page []byte) {
	if m.used[slot] {
		delete(m.index, m.names[slot])
	}
	m.store.put(slot, n, page)
	m.index[n] = slot
	m.ref[slot] = false
}
