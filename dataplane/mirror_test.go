package dataplane

import "testing"

func TestMirrorRingKeepsTheLast(t *testing.T) {
	var m mirrorRing
	if _, ok := m.get(1); ok {
		t.Fatal("empty ring returned a copy")
	}
	for i := 1; i <= mirrorKeep+10; i++ {
		m.add(frame{data: []byte{byte(i), byte(i >> 8)}})
	}
	if _, ok := m.get(10); ok {
		t.Fatal("copy 10 should have been overwritten")
	}
	for _, k := range []uint64{11, 100, mirrorKeep + 10} {
		b, ok := m.get(k)
		if !ok || int(b[0])|int(b[1])<<8 != int(k) {
			t.Fatalf("copy %d: %v %v", k, b, ok)
		}
	}
	if _, ok := m.get(mirrorKeep + 11); ok {
		t.Fatal("copy beyond the last returned")
	}
}

func TestMirrorRingFind(t *testing.T) {
	var m mirrorRing
	for i := 1; i <= mirrorKeep+10; i++ {
		m.add(frame{data: []byte{byte(i), byte(i >> 8)}})
	}
	at := func(k int) []byte { return []byte{byte(k), byte(k >> 8)} }
	if k, ok := m.find(at(100), m.n); !ok || k != 100 {
		t.Errorf("find copy 100 from the newest: %d %v", k, ok)
	}
	if _, ok := m.find(at(100), 99); ok {
		t.Error("found copy 100 searching from 99 down")
	}
	if _, ok := m.find(at(5), m.n); ok {
		t.Error("found copy 5, no longer kept")
	}
	if k, ok := m.find(at(mirrorKeep+10), m.n+5); !ok || k != mirrorKeep+10 {
		t.Errorf("search from past the newest: %d %v", k, ok)
	}
	if _, ok := m.find([]byte("nope"), m.n); ok {
		t.Error("found a frame never copied")
	}
}
