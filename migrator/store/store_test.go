package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesDir(t *testing.T) {
	dir := t.TempDir() + "/a/b/state"
	s := openT(t, dir)
	if !strings.HasPrefix(s.Path(), dir) || !strings.HasSuffix(s.Path(), FileName) {
		t.Fatalf("path %q not in %q", s.Path(), dir)
	}
}

func TestOpenSecondFailsInUse(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir)
	s, err := Open(dir, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("second open of the same state dir succeeded")
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), "state dir in use by another migratord") {
		t.Fatalf("message %q does not say the dir is in use", err)
	}
}

func TestReopenAfterClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openT(t, dir)
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}
