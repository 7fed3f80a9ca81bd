package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Migration is one stored migration record: its ID and opaque JSON body. The
// store does not interpret the body; the migration engine owns its schema.
type Migration struct {
	ID   string
	Data json.RawMessage
}

// NextMigrationID returns a new, never reused ID ("mig-00000001", ...). IDs
// sort in creation order, as ListMigrations returns them.
func (s *Store) NextMigrationID() (string, error) {
	var seq uint64
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		seq, err = tx.Bucket(bucketMigrations).NextSequence()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("allocating migration id: %w", err)
	}
	return fmt.Sprintf("mig-%08d", seq), nil
}

// PutMigration stores data (valid JSON) under id, replacing any previous record.
func (s *Store) PutMigration(id string, data json.RawMessage) error {
	if id == "" {
		return fmt.Errorf("storing migration: empty id")
	}
	if !json.Valid(data) {
		return fmt.Errorf("storing migration %s: record is not valid JSON", id)
	}
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMigrations).Put([]byte(id), data)
	})
	if err != nil {
		return fmt.Errorf("storing migration %s: %w", id, err)
	}
	return nil
}

// GetMigration returns the record stored under id, or an error matching ErrNotFound.
func (s *Store) GetMigration(id string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketMigrations).Get([]byte(id))
		if data == nil {
			return ErrNotFound
		}
		out = append(json.RawMessage(nil), data...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading migration %s: %w", id, err)
	}
	return out, nil
}

// DeleteMigration removes the record under id; a missing record is not an error.
func (s *Store) DeleteMigration(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMigrations).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("deleting migration %s: %w", id, err)
	}
	return nil
}

// ListMigrations returns every stored migration record in ID order.
func (s *Store) ListMigrations() ([]Migration, error) {
	var out []Migration
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMigrations).ForEach(func(k, v []byte) error {
			out = append(out, Migration{ID: string(k), Data: append(json.RawMessage(nil), v...)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	return out, nil
}
