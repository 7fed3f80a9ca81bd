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
	err = s.db.Update(func(tx *bolt.Tx) error {
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
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVMs).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("deleting vm %s: %w", name, err)
	}
	return nil
}

// ListVMs returns every stored VM record, ordered by name.
func (s *Store) ListVMs() ([]api.VM, error) {
	var out []api.VM
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVMs).ForEach(func(k, v []byte) error {
			var rec api.VM
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decoding vm %s: %w", k, err)
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing vms: %w", err)
	}
	return out, nil
}
