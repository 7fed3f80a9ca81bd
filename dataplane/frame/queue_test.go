package frame

import (
	"bytes"
	"testing"
)

func TestQueueFIFOAndBound(t *testing.T) {
	q := NewQueue(10)
	for i := range 4 {
		ok := q.Push(Frame{Seq: uint64(i + 1), Data: bytes.Repeat([]byte{byte(i)}, 3)})
		if want := i < 3; ok != want {
			t.Fatalf("push %d: got %v, want %v", i, ok, want)
		}
	}
	if q.Len() != 3 || q.Bytes() != 9 || q.HighWater() != 9 || q.Drops() != 1 {
		t.Fatalf("len %d bytes %d high %d drops %d", q.Len(), q.Bytes(), q.HighWater(), q.Drops())
	}
	// A smaller frame still fits: the bound is on bytes, not frames.
	if !q.Push(Frame{Seq: 9, Data: []byte{9}}) {
		t.Fatal("1-byte frame refused with 1 byte free")
	}
	var got []uint64
	for {
		f, ok := q.Pop()
		if !ok {
			break
		}
		got = append(got, f.Seq)
	}
	if want := []uint64{1, 2, 3, 9}; !equalU64(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if q.Bytes() != 0 || q.HighWater() != 10 {
		t.Fatalf("after drain: bytes %d high %d", q.Bytes(), q.HighWater())
	}
	q.ResetStats()
	if q.HighWater() != 0 || q.Drops() != 0 {
		t.Fatalf("after reset: high %d drops %d", q.HighWater(), q.Drops())
	}
}

func TestQueueWaitAndCompaction(t *testing.T) {
	q := NewQueue(1 << 30)
	w := q.Wait()
	select {
	case <-w:
		t.Fatal("wait fired before a push")
	default:
	}
	q.Push(Frame{Seq: 1, Data: []byte{1}})
	select {
	case <-w:
	default:
		t.Fatal("wait did not fire after a push")
	}
	// Interleave pushes and pops well past the compaction threshold.
	next, want := uint64(2), uint64(1)
	for range 5000 {
		q.Push(Frame{Seq: next, Data: []byte{0}})
		q.Push(Frame{Seq: next + 1, Data: []byte{0}})
		next += 2
		f, _ := q.Pop()
		if f.Seq != want {
			t.Fatalf("popped %d, want %d", f.Seq, want)
		}
		want++
	}
	rest := q.Drain()
	if len(rest) != int(next-want) || rest[0].Seq != want || q.Len() != 0 {
		t.Fatalf("drain: %d frames from %d, want %d from %d", len(rest), rest[0].Seq, next-want, want)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
