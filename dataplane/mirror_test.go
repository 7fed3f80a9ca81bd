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
