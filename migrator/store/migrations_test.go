package store

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestMigrationIDsOrdered(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		id, err := s.NextMigrationID()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	s.Close()
	s = openT(t, dir)
	id, err := s.NextMigrationID()
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, id)
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids not strictly increasing (across reopen): %v", ids)
		}
	}
}

func TestMigrationRecords(t *testing.T) {
	s := openT(t, t.TempDir())
	var ids []string
	for i := range 3 {
		id, _ := s.NextMigrationID()
		ids = append(ids, id)
		rec := json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`)
		if err := s.PutMigration(id, rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetMigration(ids[1])
	if err != nil || string(got) != `{"n":1}` {
		t.Fatalf("GetMigration = %s, %v", got, err)
	}
	if err := s.PutMigration(ids[0], json.RawMessage(`{broken`)); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	if err := s.DeleteMigration(ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMigration(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: err = %v", err)
	}
	list, err := s.ListMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != ids[1] || list[1].ID != ids[2] || string(list[1].Data) != `{"n":2}` {
		t.Fatalf("list = %+v", list)
	}
}
