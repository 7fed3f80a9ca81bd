package verify

import (
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// served is 1000 pps for 10 s through a FIFO reflector that serves the
// packets sent from 5 s until slowUntil slowly (2 ms each), those after
// fast (0.5 ms) until it caught up: a guest in post-copy resumed at 5 s.
func served(t0 time.Time, slowUntil time.Duration) []Sample {
	var out []Sample
	done := t0
	for i := range 10000 {
		sent := t0.Add(time.Duration(i) * time.Millisecond)
		at := sent.Sub(t0)
		service := 10 * time.Microsecond // keeps up: about the send time
		switch {
		case at >= 5*time.Second && at < slowUntil:
			service = 2 * time.Millisecond
		case at >= slowUntil:
			service = 500 * time.Microsecond
		}
		start := sent
		if done.After(start) {
			start = done
		}
		done = start.Add(service)
		out = append(out, Sample{Seq: uint32(i), Sent: sent, Received: done, Copies: 1, Arrival: i})
	}
	return out
}

func TestRecovery(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := api.Migration{Started: t0.Add(3 * time.Second), ResumedAt: t0.Add(5 * time.Second)}
	for _, c := range []struct {
		name      string
		slowUntil time.Duration
		lo, hi    time.Duration
		recovered bool
	}{
		{"keeps up", 5 * time.Second, 0, 0, true},
		// The 1500 packets sent in the slow 1.5 s take 3 s to serve (500/s,
		// under 90% of 1000): until 8 s; the last window short of 450
		// replies starts at 7.6 s (200 slow + 200 fast), so 3.1 s.
		{"slow 1.5 s", 6500 * time.Millisecond, 3050 * time.Millisecond, 3150 * time.Millisecond, true},
		{"never", 11 * time.Second, 4 * time.Second, 5 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Analyze(served(t0, c.slowUntil), nil, Limits{})
			if r.Recovery != nil {
				t.Fatalf("recovery %+v without the migration's times", *r.Recovery)
			}
			r = AnalyzeMigration(served(t0, c.slowUntil), m, Limits{})
			rec := r.Recovery
			if rec == nil {
				t.Fatal("no recovery measured")
			}
			if rec.Rate < 990 || rec.Rate > 1010 {
				t.Errorf("pre-migration rate %.0f/s, want 1000", rec.Rate)
			}
			if d := time.Duration(rec.Time); d < c.lo || d > c.hi || rec.Recovered != c.recovered {
				t.Errorf("recovery %v (recovered %v), want %v-%v (recovered %v)", d, rec.Recovered, c.lo, c.hi, c.recovered)
			}
		})
	}
}

// A migration started with the traffic: the sender's pace stands in for
// the rate before it.
func TestRecoveryRateFromPace(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := api.Migration{Started: t0.Add(200 * time.Millisecond), ResumedAt: t0.Add(5 * time.Second)}
	rec := AnalyzeMigration(served(t0, 5*time.Second), m, Limits{}).Recovery
	if rec == nil || rec.Rate < 990 || rec.Rate > 1010 || rec.Time != 0 || !rec.Recovered {
		t.Errorf("recovery %+v: want the pace 1000/s, recovered at once", rec)
	}
}

// A dip well after the VNF was back at its rate (the sender's pacing, a
// busy host) is not the move's recovery: it had kept up for
// recoverySustain by then.
func TestRecoveryLaterDip(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := api.Migration{Started: t0.Add(3 * time.Second), ResumedAt: t0.Add(5 * time.Second)}
	var got []Sample
	for _, s := range served(t0, 5*time.Second) {
		if at := s.Sent.Sub(t0); at >= 8*time.Second && at < 8300*time.Millisecond {
			s.Copies, s.Received = 0, time.Time{} // 300 replies lost 3 s after the resume
		}
		got = append(got, s)
	}
	rec := AnalyzeMigration(got, m, Limits{}).Recovery
	if rec == nil || rec.Time != 0 || !rec.Recovered {
		t.Errorf("recovery %+v: want recovered at once", rec)
	}
	// The same dip within the first second after the resume counts.
	got = got[:0]
	for _, s := range served(t0, 5*time.Second) {
		if at := s.Sent.Sub(t0); at >= 5500*time.Millisecond && at < 5800*time.Millisecond {
			s.Copies, s.Received = 0, time.Time{}
		}
		got = append(got, s)
	}
	rec = AnalyzeMigration(got, m, Limits{}).Recovery
	if rec == nil || time.Duration(rec.Time) < 800*time.Millisecond || time.Duration(rec.Time) > 1300*time.Millisecond || !rec.Recovered {
		t.Errorf("recovery %+v: want about 1.3 s (the last short window ends then)", rec)
	}
}

// A sender that itself sent less for a while after the resume (its host
// busy) is not the VNF falling behind: a window asks for what was sent in
// it if that is less than the rate. A VNF that then also fell behind
// still counts.
func TestRecoverySenderShort(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := api.Migration{Started: t0.Add(3 * time.Second), ResumedAt: t0.Add(5 * time.Second)}
	var got []Sample
	for _, s := range served(t0, 5*time.Second) {
		if at := s.Sent.Sub(t0); at >= 5500*time.Millisecond && at < 5800*time.Millisecond && s.Seq%4 != 0 {
			continue // the sender sent a quarter of its packets for 300 ms
		}
		got = append(got, s)
	}
	if rec := AnalyzeMigration(got, m, Limits{}).Recovery; rec == nil || rec.Time != 0 || !rec.Recovered {
		t.Errorf("recovery %+v: want recovered at once", rec)
	}
	got = got[:0]
	for _, s := range served(t0, 6500*time.Millisecond) {
		if at := s.Sent.Sub(t0); at >= 5500*time.Millisecond && at < 5800*time.Millisecond && s.Seq%4 != 0 {
			continue
		}
		got = append(got, s)
	}
	if rec := AnalyzeMigration(got, m, Limits{}).Recovery; rec == nil || time.Duration(rec.Time) < 2*time.Second || !rec.Recovered {
		t.Errorf("recovery %+v: want the slow VNF's seconds", rec)
	}
}
