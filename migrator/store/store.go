// Package store is migratord's embedded state: the records of the VMs an
// agent owns and, for migrations, opaque JSON records with ordered IDs. It is
// a single bbolt file, <state-dir>/state.db, locked by one agent at a time.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the state dir.
const FileName = "state.db"

var (
	// ErrNotFound is returned when a key has no record.
	ErrNotFound = errors.New("no such record")
	// ErrInUse is returned when another process holds the state dir.
	ErrInUse = errors.New("state dir in use by another migratord")
)

var (
	bucketVMs        = []byte("vms")
	bucketMigrations = []byte("migrations")
)

// Options tune Open. The zero value is usable.
type Options struct {
	// LockTimeout bounds the wait for the file lock (default 1s).
	LockTimeout time.Duration
	Logger      *slog.Logger
}

func (o *Options) defaults() {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	log  *slog.Logger
	// fault, when set, fails every write (FailWrites).
	fault atomic.Pointer[error]
}

// Open creates dir if needed and opens (or creates) its state database. It
// fails with ErrInUse when another agent holds the lock past the timeout.
func Open(dir string, opts Options) (*Store, error) {
	opts.defaults()
	if dir == "" {
		return nil, errors.New("opening store: empty state dir")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("opening %s: %w (lock not released within %s)", path, ErrInUse, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketVMs, bucketMigrations} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("creating buckets in %s: %w", path, err)
	}
	opts.Logger.Debug("store open", "path", path)
	return &Store{db: db, path: path, log: opts.Logger}, nil
}

// FailWrites makes every write from now on fail with err, as a failing
// disk would (nil: writes work again); reads still work. A test knob:
// migratord's --debug-store-fail-writes-after-arrival, and unit tests.
func (s *Store) FailWrites(err error) {
	if err == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&err)
}

// update runs fn in a write transaction, unless FailWrites says writes fail.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	if err := s.fault.Load(); err != nil {
		return *err
	}
	return s.db.Update(fn)
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Close releases the database and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}
