package agent

import (
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/pagecode"
)

// gangs are the page coders' stores of the gangs migrating from here, by
// gang name and destination: created by a gang's first migration, kept
// pagecode.GangIdle after its last (the next of a gang moved one at a time
// starts just after), then dropped; a migration that finds its gang stale
// (no stream for GangIdle: the destination may have dropped its copy)
// starts it afresh.
type gangs struct {
	mu sync.Mutex
	m  map[gangKey]*gangStore
}

type gangKey struct{ name, to string }

type gangStore struct {
	g     *pagecode.Gang
	users int
}

// join returns gang name's store towards to, and the function that leaves
// it. An empty name is no gang: nil.
func (gs *gangs) join(name, to string) (*pagecode.Gang, func(), error) {
	if name == "" {
		return nil, func() {}, nil
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	k := gangKey{name, to}
	s, ok := gs.m[k]
	if !ok || s.g.Stale() {
		g, err := pagecode.NewGang(pagecode.NewKey(), 0)
		if err != nil {
			return nil, nil, err
		}
		if gs.m == nil {
			gs.m = make(map[gangKey]*gangStore)
		}
		s = &gangStore{g: g}
		gs.m[k] = s
	}
	s.users++
	var once sync.Once
	return s.g, func() {
		once.Do(func() {
			gs.mu.Lock()
			defer gs.mu.Unlock()
			if s.users--; s.users == 0 {
				time.AfterFunc(gangKeep, func() { gs.drop(k, s) })
			}
		})
	}, nil
}

// gangKeep is how long a gang outlives its last migration here.
var gangKeep = pagecode.GangIdle

// drop forgets k's store s if no migration joined it again.
func (gs *gangs) drop(k gangKey, s *gangStore) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if s.users == 0 && gs.m[k] == s {
		delete(gs.m, k)
	}
}
