package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// PutVM stores rec under rec.Spec.Name, replacing any previous record.
func (s *Store) PutVM(rec api.VM) error {
	if rec.Spec.Name == "" {
		return fmt.Errorf("storing vm: empty name")
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding vm %s: %w", rec.Spec.Name, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVMs).Put([]byte(rec.Spec.Name), data)
	})
	if err != nil {
		return fmt.Errorf("storing vm %s: %w", rec.Spec.Name, err)
	}
	return nil
}

// GetVM returns the record stored under name, or an error matching ErrNotFound.
func (s *Store) GetVM(name string) (api.VM, error) {
	var rec api.VM
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketVMs).Get([]byte(name))
		if data == nil {
			return ErrNotFound
		}
		return json.Unmarshal(data, &rec)
	})
	if err != nil {
		return api.VM{}, fmt.Errorf("reading vm %s: %w", name, err)
	}
	return rec, nil
}

// DeleteVM removes the record stored under name. Deleting a missing record
// is not an error.
func (s *Store) DeleteVM(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVMs).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("deleting vm %s: %w", name, err)
	}
	return nil
}

// Corrupt is a stored record that does not decode: kept, never guessed at.
type Corrupt struct {
	Key string
	Err error
}

// ListVMs returns every VM record that decodes, and the keys of those that
// do not (one bad record must not keep an agent from starting).
func (s *Store) ListVMs() ([]api.VM, []Corrupt, error) {
	var out []api.VM
	var bad []Corrupt
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVMs).ForEach(func(k, v []byte) error {
			var rec api.VM
			if err := json.Unmarshal(v, &rec); err != nil {
				bad = append(bad, Corrupt{Key: string(k), Err: fmt.Errorf("decoding vm %q: %w", k, err)})
				return nil
			}
			if rec.Spec.Name != string(k) {
				bad = append(bad, Corrupt{Key: string(k), Err: fmt.Errorf("vm record %q names vm %q", k, rec.Spec.Name)})
				return nil
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing vms: %w", err)
	}
	return out, bad, nil
}
