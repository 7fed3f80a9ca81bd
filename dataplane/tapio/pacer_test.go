package tapio

import (
	"testing"
	"time"
)

func TestPacerBurstThenRate(t *testing.T) {
	p := newPacer(1000, 4)
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		if d := p.wait(t0); d != 0 {
			t.Fatalf("frame %d of the burst waits %v", i, d)
		}
	}
	d := p.wait(t0)
	if d <= 0 || d > time.Millisecond {
		t.Fatalf("fifth frame at the same instant waits %v, want (0, 1ms]", d)
	}
	// After the wait the token is there.
	if d2 := p.wait(t0.Add(d)); d2 != 0 {
		t.Fatalf("after waiting %v: still %v", d, d2)
	}
	// Over one second at most rate frames (plus the burst) go.
	n := 0
	for ns := int64(0); ns < int64(time.Second); ns += int64(100 * time.Microsecond) {
		now := t0.Add(d + time.Duration(ns))
		for p.wait(now) == 0 {
			n++
		}
	}
	if n < 990 || n > 1004 {
		t.Fatalf("%d frames in a second at 1000/s with a burst of 4", n)
	}
}

func TestPacerZeroRateIsUnpaced(t *testing.T) {
	var p pacer
	for range 10000 {
		if d := p.wait(time.Now()); d != 0 {
			t.Fatalf("unpaced pacer waits %v", d)
		}
	}
}
