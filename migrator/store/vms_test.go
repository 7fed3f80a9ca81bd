package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func vmRec(name, state string) api.VM {
	return api.VM{
		Spec:    api.VMSpec{Name: name, MemoryMiB: 256, VCPUs: 1, Image: "vnf", MAC: "52:54:00:00:00:01", Address: "198.18.0.100/24"},
		State:   state,
		Host:    "hostA",
		PID:     42,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestVMRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir())
	want := vmRec("fw1", api.StateRunning)
	if err := s.PutVM(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetVM("fw1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	want.State = api.StateFailed
	if err := s.PutVM(want); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVM("fw1"); got.State != api.StateFailed {
		t.Fatalf("state after overwrite = %q", got.State)
	}
}

func TestVMMissing(t *testing.T) {
	s := openT(t, t.TempDir())
	if _, err := s.GetVM("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteVM("nope"); err != nil {
		t.Fatalf("deleting a missing record: %v", err)
	}
	if err := s.PutVM(api.VM{}); err == nil {
		t.Fatal("PutVM without a name succeeded")
	}
}

func TestVMListDeletePersist(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"c", "a", "b"} {
		if err := s.PutVM(vmRec(n, api.StateRunning)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteVM("b"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openT(t, dir)
	list, bad, err := s.ListVMs()
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	var names []string
	for _, v := range list {
		names = append(names, v.Spec.Name)
	}
	if !reflect.DeepEqual(names, []string{"a", "c"}) {
		t.Fatalf("names after reopen = %v, want [a c]", names)
	}
}

// Records that do not decode, or are stored under another name than their
// own, are reported apart; the others are listed.
func TestVMListReportsCorrupt(t *testing.T) {
	s := openT(t, t.TempDir())
	if err := s.PutVM(vmRec("a", api.StateRunning)); err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(vmRec("c", api.StateRunning))
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVMs)
		return errors.Join(b.Put([]byte("b"), []byte("{not json")), b.Put([]byte("d"), other))
	})
	if err != nil {
		t.Fatal(err)
	}
	list, bad, err := s.ListVMs()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Spec.Name != "a" {
		t.Errorf("listed %+v, want only a", list)
	}
	if len(bad) != 2 || bad[0].Key != "b" || bad[1].Key != "d" ||
		!strings.Contains(bad[0].Err.Error(), `decoding vm "b"`) || !strings.Contains(bad[1].Err.Error(), `names vm "c"`) {
		t.Errorf("corrupt %+v", bad)
	}
}
