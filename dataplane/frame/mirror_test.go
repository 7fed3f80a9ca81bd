package frame

import "testing"

func TestMirrorRingKeepsTheLast(t *testing.T) {
	var m MirrorRing
	if _, ok := m.Get(1); ok {
		t.Fatal("empty ring returned a copy")
	}
	for i := 1; i <= MirrorKeep+10; i++ {
		m.Add([]byte{byte(i), byte(i >> 8)})
	}
	if _, ok := m.Get(10); ok {
		t.Fatal("copy 10 should have been overwritten")
	}
	for _, k := range []uint64{11, 100, MirrorKeep + 10} {
		b, ok := m.Get(k)
		if !ok || int(b[0])|int(b[1])<<8 != int(k) {
			t.Fatalf("copy %d: %v %v", k, b, ok)
		}
	}
	if _, ok := m.Get(MirrorKeep + 11); ok {
		t.Fatal("copy beyond the last returned")
	}
}

func TestMirrorRingFind(t *testing.T) {
	var m MirrorRing
	for i := 1; i <= MirrorKeep+10; i++ {
		m.Add([]byte{byte(i), byte(i >> 8)})
	}
	at := func(k int) []byte { return []byte{byte(k), byte(k >> 8)} }
	if k, ok := m.Find(at(100), m.N()); !ok || k != 100 {
		t.Errorf("find copy 100 from the newest: %d %v", k, ok)
	}
	if _, ok := m.Find(at(100), 99); ok {
		t.Error("found copy 100 searching from 99 down")
	}
	if _, ok := m.Find(at(5), m.N()); ok {
		t.Error("found copy 5, no longer kept")
	}
	if k, ok := m.Find(at(MirrorKeep+10), m.N()+5); !ok || k != MirrorKeep+10 {
		t.Errorf("search from past the newest: %d %v", k, ok)
	}
	if _, ok := m.Find([]byte("nope"), m.N()); ok {
		t.Error("found a frame never copied")
	}
}
