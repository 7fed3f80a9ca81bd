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

// FailWrites fails every write with its error, wrapped, and leaves reads
// alone; nil lets writes through again.
func TestFailWrites(t *testing.T) {
	s := openT(t, t.TempDir())
	if err := s.PutVM(vmRec("fw1", "running")); err != nil {
		t.Fatal(err)
	}
	disk := errors.New("disk full")
	s.FailWrites(disk)
	writes := map[string]error{
		"PutVM":     s.PutVM(vmRec("fw2", "running")),
		"DeleteVM":  s.DeleteVM("fw1"),
		"Put":       s.PutMigration("mig-1", []byte(`{}`)),
		"Delete":    s.DeleteMigration("mig-1"),
		"NextMigID": func() error { _, err := s.NextMigrationID(); return err }(),
	}
	for name, err := range writes {
		if !errors.Is(err, disk) {
			t.Errorf("%s while writes fail: %v, want %v", name, err, disk)
		}
	}
	if v, err := s.GetVM("fw1"); err != nil || v.State != "running" {
		t.Fatalf("read while writes fail: %+v, %v", v, err)
	}
	s.FailWrites(nil)
	if err := s.PutVM(vmRec("fw2", "running")); err != nil {
		t.Fatalf("write after FailWrites(nil): %v", err)
	}
}
