package pagecode

import (
	"fmt"
	"sync"
	"time"
)

// Stores are a destination agent's content stores, one per gang, shared
// by the decoders of the gang's channels and bounded in total.
type Stores struct {
	mu    sync.Mutex
	most  int // slots in all
	total int
	gangs map[GangID]*gangStore
	// linger is how long a store outlives its last stream (StoreLinger).
	linger time.Duration
}

// gangStore is one gang's store at the destination.
type gangStore struct {
	mu    sync.Mutex
	st    *store
	users int
}

// NewStores bounds the stores at most slots in all (0: MaxStoreSlots).
func NewStores(most int) *Stores {
	if most == 0 {
		most = MaxStoreSlots
	}
	return &Stores{most: most, gangs: make(map[GangID]*gangStore), linger: StoreLinger}
}

// drop frees gang id's store if no stream joined it again.
func (s *Stores) drop(id GangID, g *gangStore, slots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.users == 0 && s.gangs[id] == g {
		delete(s.gangs, id)
		s.total -= slots
	}
}

// join returns gang id's store of slots, made by the first of its
// channels, and how to leave it (the last to leave frees it).
func (s *Stores) join(id GangID, slots int) (*gangStore, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gangs[id]
	switch {
	case ok && g.st.slots() != slots:
		return nil, nil, fmt.Errorf("%w: gang store of %d slots, the gang's has %d", ErrMalformed, slots, g.st.slots())
	case !ok && s.total+slots > s.most:
		return nil, nil, fmt.Errorf("%w: a store of %d slots with %d of %d in use", ErrMalformed, slots, s.total, s.most)
	case !ok:
		g = &gangStore{st: newStore(slots)}
		s.gangs[id] = g
		s.total += slots
	}
	g.users++
	var once sync.Once
	return g, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if g.users--; g.users == 0 {
				// The gang's next stream may come (see GangIdle).
				time.AfterFunc(s.linger, func() { s.drop(id, g, slots) })
			}
		})
	}, nil
}
