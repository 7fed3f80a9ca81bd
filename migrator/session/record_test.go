package session

import (
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// slowStore keeps the last persisted record; its writes take a while, so
// reports racing each other overlap in it.
type slowStore struct {
	mu   sync.Mutex
	last api.Migration
	n    int
}

func (s *slowStore) put(m api.Migration) {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.n = m, s.n+1
}

func (s *slowStore) get() api.Migration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Persisted reports reach the store in the order of their changes: the
// stored record is the last change, never an older snapshot written late.
func TestRecordReportsInChangeOrder(t *testing.T) {
	st := &slowStore{}
	r := newRecord(api.Migration{ID: "m"}, func(m api.Migration, persist bool) {
		if persist {
			st.put(m)
		}
	})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				r.update(true, func(m *api.Migration) { m.Progress.Transferred++ })
			}
		}()
	}
	wg.Wait()
	if got := st.get().Progress.Transferred; got != 160 {
		t.Fatalf("stored record has %d changes, want the last (160): an older snapshot overwrote it", got)
	}
}

// The commit, once stored, is never overwritten by a report of a snapshot
// taken before it, even one already on its way to the store; a commit the
// store refuses leaves the record uncommitted.
func TestRecordCommitNotOverwritten(t *testing.T) {
	st := &slowStore{}
	inside, release := make(chan struct{}), make(chan struct{})
	r := newRecord(api.Migration{ID: "m"}, func(m api.Migration, persist bool) {
		if persist && m.Progress.Transferred == 1 {
			close(inside)
			<-release
		}
		if persist {
			st.put(m)
		}
	})
	go r.update(true, func(m *api.Migration) { m.Progress.Transferred++ })
	<-inside
	done := make(chan error)
	go func() { done <- r.commit(func(m api.Migration) error { st.put(m); return nil }) }()
	select {
	case err := <-done:
		t.Fatalf("commit stored (err %v) while an older snapshot was still on its way to the store", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !st.get().Committed || !r.get().Committed {
		t.Fatalf("stored committed=%v, record committed=%v; want both", st.get().Committed, r.get().Committed)
	}

	r = newRecord(api.Migration{ID: "m"}, nil)
	if err := r.commit(func(api.Migration) error { return errTest }); err != errTest {
		t.Fatalf("commit: %v, want the store's error", err)
	}
	if r.get().Committed {
		t.Fatal("a commit the store refused left the record committed")
	}
}
