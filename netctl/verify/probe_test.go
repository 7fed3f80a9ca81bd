package verify_test

import (
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// steady is rate packets/s for secs seconds from t0, packet i answered
// rtt(i) after it was sent, or lost when rtt(i) < 0.
func steady(t0 time.Time, rate, secs int, rtt func(i int) time.Duration) []verify.Sample {
	var ss []verify.Sample
	for i := range rate * secs {
		s := verify.Sample{Seq: uint32(i), Sent: t0.Add(time.Duration(i) * time.Second / time.Duration(rate)),
			ReflectorSeq: uint32(i), Arrival: i, Copies: 1}
		if d := rtt(i); d >= 0 {
			s.RTT, s.Received = d, s.Sent.Add(d)
		} else {
			s.Copies, s.Arrival = 0, -1
		}
		ss = append(ss, s)
	}
	return ss
}

// The definitions of a sustained and of a bounded load on made-up probes:
// a steady guest, a slow first second and one stall pass; a growing queue,
// a loss or a slow later second fail.
func TestProbe(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	const rate, secs = 1000, 6
	ms := time.Millisecond
	for _, c := range []struct {
		name               string
		rtt                func(i int) time.Duration
		bounded, sustained bool
	}{
		{"steady", func(int) time.Duration { return ms }, true, true},
		{"slow first second", func(i int) time.Duration {
			if i < rate {
				return 30 * ms
			}
			return ms
		}, true, true},
		{"one stall of 70 ms", func(i int) time.Duration {
			if i >= 2500 && i < 2570 {
				return time.Duration(2570-i) * ms
			}
			return ms
		}, true, true},
		{"queue grows 2 ms a second", func(i int) time.Duration { return ms + time.Duration(i)*2*ms/rate }, true, false},
		{"slow third second", func(i int) time.Duration {
			if i/rate == 2 {
				return 50 * ms
			}
			return ms
		}, false, false},
		{"slow everywhere", func(int) time.Duration { return 30 * ms }, false, false},
		{"one lost", func(i int) time.Duration {
			if i == 4000 {
				return -1
			}
			return ms
		}, false, false},
	} {
		p := verify.NewProbe(steady(t0, rate, secs, c.rtt), rate, secs*time.Second)
		if len(p.Medians) != secs {
			t.Fatalf("%s: %d medians, want %d", c.name, len(p.Medians), secs)
		}
		if b, s := p.Bounded(), p.Sustained(); b != c.bounded || s != c.sustained {
			t.Errorf("%s: bounded %v sustained %v, want %v %v (%v)", c.name, b, s, c.bounded, c.sustained, p)
		}
	}
}
