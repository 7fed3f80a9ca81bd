package agent

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/store"
)

// Store writes. A write the agent can still act on when it fails (a start
// or an arrival not yet under way, a commit not yet sent) returns the
// store's error and its caller undoes what it began (storeNow). Any other
// write records what has already happened (a guest arrived, died, stopped
// or left; a migration moved on) and cannot be undone: failing it would
// leave a record that says less than the truth, which the next start would
// act on. Such a write is kept and retried in the background until the
// store takes it or a later write of the same record replaces it
// (storeLater); migration records are read through the kept writes. Every
// write of a VM or migration record goes through here, one at a time, so a
// kept write never lands over a newer one.
//
// Until a kept VM write lands, the stored record is one the restart
// handles safely: an arrival's record says "starting" and its guest runs
// (adopted: adoptStarted), and the VM does not migrate (storedVM).

// recordKey names one stored record.
type recordKey struct {
	kind string // kindVM or kindMigration
	name string // the VM's name or the migration's ID
}

const (
	kindVM        = "vm"
	kindMigration = "migration"
)

func (k recordKey) String() string { return k.kind + " " + k.name }

// write is one write of a stored record: a VM record put or deleted, or a
// migration record put.
type write struct {
	key  recordKey
	vm   api.VM          // kindVM, unless del
	data json.RawMessage // kindMigration
	del  bool
}

func putVM(rec api.VM) write     { return write{key: recordKey{kindVM, rec.Spec.Name}, vm: rec} }
func deleteVM(name string) write { return write{key: recordKey{kindVM, name}, del: true} }

func putMigration(m api.Migration) (write, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return write{}, fmt.Errorf("encoding migration %s: %w", m.ID, err)
	}
	return write{key: recordKey{kindMigration, m.ID}, data: b}, nil
}

func (w write) apply(st *store.Store) error {
	switch {
	case w.key.kind == kindMigration:
		return st.PutMigration(w.key.name, w.data)
	case w.del:
		return st.DeleteVM(w.key.name)
	}
	return st.PutVM(w.vm)
}

// writer serializes the agent's record writes and keeps those the store
// failed.
type writer struct {
	mu       sync.Mutex
	kept     map[recordKey]*keptWrite
	retrying chan struct{} // closed when the retry loop ends; nil if none runs
	lastErr  error         // the store's last error to a kept write
	warned   time.Time     // the last warning that the store still fails
}

// keptWrite is a write the store failed, waiting to be retried.
type keptWrite struct {
	write
	since time.Time
	tries int
	err   error // the store's last error to it
}

// storeNow writes w and returns the store's error. A kept write of the
// same record is older: it is dropped once w lands.
func (a *Agent) storeNow(w write) error {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	if err := w.apply(a.cfg.Store); err != nil {
		return err
	}
	delete(a.writes.kept, w.key)
	return nil
}

// storeLater writes w, or keeps it and retries it in the background until
// the store takes it or a later write of the same record replaces it.
func (a *Agent) storeLater(w write) {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	err := w.apply(a.cfg.Store)
	if err == nil {
		delete(a.writes.kept, w.key)
		return
	}
	k := a.writes.kept[w.key]
	if k == nil {
		a.log.Error("store write failed: kept, and retried until the store takes it", "record", w.key, "err", err)
		k = &keptWrite{since: time.Now()}
		if a.writes.kept == nil {
			a.writes.kept = make(map[recordKey]*keptWrite)
		}
		a.writes.kept[w.key] = k
	}
	k.write, k.err, a.writes.lastErr = w, err, err
	a.startRetrying()
}

// keptWrites counts the writes the store has not taken yet.
func (a *Agent) keptWrites() int {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	return len(a.writes.kept)
}

// keptMigration returns the kept write of migration id's record, if any:
// newer than the stored one.
func (a *Agent) keptMigration(id string) (json.RawMessage, bool) {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	k := a.writes.kept[recordKey{kindMigration, id}]
	if k == nil {
		return nil, false
	}
	return k.data, true
}

// keptMigrationIDs lists the migrations whose record has a kept write.
func (a *Agent) keptMigrationIDs() []string {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	var ids []string
	for key := range a.writes.kept {
		if key.kind == kindMigration {
			ids = append(ids, key.name)
		}
	}
	slices.Sort(ids)
	return ids
}

// storedVM makes sure the store holds VM name's latest record: a kept
// write of it is tried once more, and if the store still fails it, the
// error (matching api.ErrBusy) says so. A VM whose stored record is behind
// (an arrival's says "starting") must not leave: an agent restarted
// mid-migration would find its guest paused and take it for a failed
// start.
func (a *Agent) storedVM(name string) error {
	a.writes.mu.Lock()
	defer a.writes.mu.Unlock()
	key := recordKey{kindVM, name}
	k := a.writes.kept[key]
	if k == nil {
		return nil
	}
	k.tries++
	if err := k.apply(a.cfg.Store); err != nil {
		k.err, a.writes.lastErr = err, err
		return fmt.Errorf("%w: %s's record is not stored yet (%v): it does not migrate until the store takes it", api.ErrBusy, name, err)
	}
	delete(a.writes.kept, key)
	return nil
}
