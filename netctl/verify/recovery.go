package verify

import (
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Recovery is how long the VNF took, after the guest ran at the
// destination, to reflect at its pre-migration rate again: in post-copy
// every first touch of a page is a round trip to the source, and a VNF
// falls behind until its working set has arrived.
type Recovery struct {
	// Rate is the replies per second before the migration began (the
	// sender's pace if too little traffic preceded it).
	Rate float64 `json:"rate"`
	// Time runs from the guest's resume at the destination to the end of
	// the last window in which fewer than RecoveredShare of Rate's replies
	// (or of the packets sent in the window, if the sender sent fewer)
	// arrived before it kept up for recoverySustain (0: it kept up from
	// the start). Without Recovered it runs to the end of the traffic,
	// which it never reached.
	Time      api.Duration `json:"time"`
	Recovered bool         `json:"recovered"`
}

// The windows recovery looks at.
const (
	recoveryWindow = 500 * time.Millisecond
	recoveryStep   = 50 * time.Millisecond
	recoveryBefore = 2 * time.Second // the pre-migration rate's window
	// recoverySustain is how long every window must keep up for the VNF
	// to be back at its rate: a window short later on (the sender's
	// pacing, a busy host) is a new dip, not the move's recovery.
	recoverySustain = time.Second
	// RecoveredShare of the pre-migration rate is "at its rate again": a
	// window's count varies with the sender's pacing and the arrival bins.
	RecoveredShare = 0.9
)

// recovery computes the Recovery of got (answered samples in arrival
// order; bySeq every sample) for a migration started at start whose guest
// resumed at the destination at resumed; nil without enough to measure.
func recovery(bySeq, got []Sample, start, resumed time.Time) *Recovery {
	if resumed.IsZero() || len(got) == 0 || len(bySeq) < 2 {
		return nil
	}
	firstSent, lastSent := bySeq[0].Sent, bySeq[len(bySeq)-1].Sent
	rate := arrivalRate(got, later(start.Add(-recoveryBefore), firstSent), start)
	if rate == 0 {
		// Too little before the migration: the sender's pace.
		rate = float64(len(bySeq)-1) / lastSent.Sub(firstSent).Seconds()
	}
	want := RecoveredShare * rate * recoveryWindow.Seconds()
	if want < 1 {
		return nil // too slow a rate for the windows
	}
	rec := &Recovery{Rate: rate}
	// Windows from the resume to the last one the traffic fills.
	end := lastSent.Add(-recoveryWindow)
	if end.Before(resumed) {
		return nil // the traffic ended too soon after the resume
	}
	lo := 0  // first arrival not before the window's start
	slo := 0 // first packet not sent before the window's start
	short := false
	keptUp := resumed // start of the windows keeping up since
	for u := resumed; !u.After(end); u = u.Add(recoveryStep) {
		for lo < len(got) && got[lo].Received.Before(u) {
			lo++
		}
		n := 0
		for i := lo; i < len(got) && got[i].Received.Before(u.Add(recoveryWindow)); i++ {
			n++
		}
		for slo < len(bySeq) && bySeq[slo].Sent.Before(u) {
			slo++
		}
		sent := 0
		for i := slo; i < len(bySeq) && bySeq[i].Sent.Before(u.Add(recoveryWindow)); i++ {
			sent++
		}
		// A window the sender itself fell short in (its host busy, as
		// post-copy makes it on a small machine) asks for what it sent:
		// the VNF cannot answer more, and answering that is keeping up.
		if short = float64(n) < min(want, RecoveredShare*float64(sent)); short {
			rec.Time = api.Duration(u.Add(recoveryWindow).Sub(resumed))
			keptUp = u.Add(recoveryStep)
		} else if u.Sub(keptUp) >= recoverySustain {
			break // back at its rate
		}
	}
	rec.Recovered = !short // the traffic's last window, or the sustained run, decides
	return rec
}

// arrivalRate is replies per second that arrived in [from, to); 0 if that
// is under a second (too short to say).
func arrivalRate(got []Sample, from, to time.Time) float64 {
	d := to.Sub(from)
	if d < time.Second {
		return 0
	}
	n := 0
	for _, s := range got {
		if !s.Received.Before(from) && s.Received.Before(to) {
			n++
		}
	}
	return float64(n) / d.Seconds()
}

// String says it in a phrase, e.g. "recovered 1.6s after the resume (to
// 90% of 1000/s)".
func (r Recovery) String() string {
	if !r.Recovered {
		return fmt.Sprintf("not back to %.0f%% of %.0f/s within %s of the resume", RecoveredShare*100, r.Rate, fmtMS(r.Time))
	}
	return fmt.Sprintf("recovered %s after the resume (to %.0f%% of %.0f/s)", fmtMS(r.Time), RecoveredShare*100, r.Rate)
}
