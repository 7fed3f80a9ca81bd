package verify

import (
	"cmp"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Limits are the pass criteria.
type Limits struct {
	MaxLost int           // packets; < 0: no limit on loss (0 is a real limit)
	MaxGap  time.Duration // largest gap; <= 0: no limit
}

// Report is the verdict on one verification run.
type Report struct {
	Sent       int `json:"sent"`
	Received   int `json:"received"`
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"` // extra copies
	Reordered  int `json:"reordered"`  // arrivals behind an earlier arrival's sequence number
	// LargestGap is the longest time between the send times of two
	// consecutive answered packets with lost ones in between: the outage the
	// traffic saw (0 without loss). GapPhase is the migration phase
	// overlapping it most, or "none".
	LargestGap api.Duration `json:"largest_gap"`
	GapStart   time.Time    `json:"gap_start"`
	GapEnd     time.Time    `json:"gap_end"`
	GapPhase   string       `json:"gap_phase"`
	GapLost    int          `json:"gap_lost"` // packets lost inside the largest gap
	// RecvGap is the longest time between two consecutive reply arrivals
	// (packets held up but not lost, or the sender pausing, show here);
	// RecvGapStart is the arrival that opened it and RecvGapPhase the
	// migration phase overlapping it most, or "none".
	RecvGap      api.Duration `json:"recv_gap"`
	RecvGapStart time.Time    `json:"recv_gap_start"`
	RecvGapPhase string       `json:"recv_gap_phase"`
	LatencyP50   api.Duration `json:"latency_p50"`
	LatencyP99   api.Duration `json:"latency_p99"`
	LatencyMax   api.Duration `json:"latency_max"`
	// The reflector's own counter must rise by one per reflected packet;
	// a restarted VNF starts again from zero.
	ReflectorSeqFirst      uint32 `json:"reflector_seq_first"`
	ReflectorSeqLast       uint32 `json:"reflector_seq_last"`
	ReflectorSeqContinuous bool   `json:"reflector_seq_continuous"`
	ReflectorSeqJumps      int    `json:"reflector_seq_jumps"`
	// Handoff is the migration's traffic hand-off as both agents counted
	// it (nil without one); HandoffDropped the frames it dropped.
	Handoff        *api.HandoffReport `json:"handoff,omitempty"`
	HandoffDropped uint64             `json:"handoff_dropped"`
	// Recovery is how long the VNF took to reflect at its pre-migration
	// rate again after the guest resumed at the destination (nil without
	// the resume's time, or with too little traffic to say).
	Recovery *Recovery `json:"recovery,omitempty"`
	// TCP is the TCP flow's account (netctl migrate --verify-tcp; nil
	// without one).
	TCP     *TCPCheck `json:"tcp,omitempty"`
	Pass    bool      `json:"pass"`
	Verdict string    `json:"verdict"`
}

// Analyze computes the report of samples (in any order) against the
// migration's phases and the limits.
func Analyze(samples []Sample, phases []api.Phase, lim Limits) Report {
	return analyze(samples, api.Migration{Phases: phases}, lim)
}

// analyze is the report against what m says: its phases, its hand-off,
// when it started and when the guest resumed at the destination.
func analyze(samples []Sample, m api.Migration, lim Limits) Report {
	phases := m.Phases
	bySeq := slices.SortedFunc(slices.Values(samples), func(a, b Sample) int { return cmp.Compare(a.Seq, b.Seq) })
	var r Report
	r.Sent = len(bySeq)
	r.Handoff, r.HandoffDropped = m.Handoff, handoffDropped(m.Handoff)
	var got []Sample // answered, in arrival order
	for _, s := range bySeq {
		if s.Lost() {
			r.Lost++
			continue
		}
		r.Received++
		r.Duplicated += s.Copies - 1
		got = append(got, s)
	}
	slices.SortStableFunc(got, func(a, b Sample) int { return cmp.Compare(a.Arrival, b.Arrival) })
	for i, hi := 0, uint32(0); i < len(got); i++ {
		if i > 0 && got[i].Seq < hi {
			r.Reordered++
		}
		hi = max(hi, got[i].Seq)
		if i > 0 {
			if d := got[i].Received.Sub(got[i-1].Received); d > time.Duration(r.RecvGap) {
				r.RecvGap, r.RecvGapStart = api.Duration(d), got[i-1].Received
			}
		}
	}
	r.RecvGapPhase = "none"
	if r.RecvGap > 0 {
		r.RecvGapPhase = phaseAt(phases, r.RecvGapStart, r.RecvGapStart.Add(time.Duration(r.RecvGap)))
	}
	r.gap(bySeq, phases)
	r.Recovery = recovery(bySeq, got, m.Started, m.ResumedAt)
	r.latency(got)
	r.reflector(bySeq, got)
	r.verdict(lim)
	return r
}

// gap finds the largest interval between the send times of consecutive
// answered packets with lost ones in between; lost packets before the first
// or after the last answer are bracketed by the first or last packet sent.
// Intervals without loss do not count: there the sender itself paused (a
// busy machine), the network did not.
func (r *Report) gap(bySeq []Sample, phases []api.Phase) {
	r.GapPhase = "none"
	prev := 0 // index of the previous answered packet, or the first packet
	for i, s := range bySeq {
		if s.Lost() && i < len(bySeq)-1 {
			continue
		}
		lost := 0
		for _, x := range bySeq[prev : i+1] {
			if x.Lost() {
				lost++
			}
		}
		if d := s.Sent.Sub(bySeq[prev].Sent); lost > 0 && (d > time.Duration(r.LargestGap) || r.GapLost == 0) {
			r.LargestGap = api.Duration(d)
			r.GapStart, r.GapEnd, r.GapLost = bySeq[prev].Sent, s.Sent, lost
		}
		prev = i
	}
	if r.GapLost > 0 {
		r.GapPhase = phaseAt(phases, r.GapStart, r.GapEnd)
	}
}

// phaseAt names the phase that overlaps [from, to] most; for an empty
// interval, the phase containing it. "none" if no phase does.
func phaseAt(phases []api.Phase, from, to time.Time) string {
	best, bestD := "none", time.Duration(-1)
	for _, p := range phases {
		lo, hi := later(p.Start, from), earlier(p.End, to)
		if p.End.IsZero() {
			hi = to
		}
		if d := hi.Sub(lo); !hi.Before(lo) && d > bestD {
			best, bestD = p.Name, d
		}
	}
	return best
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (r *Report) latency(got []Sample) {
	if len(got) == 0 {
		return
	}
	rtts := make([]time.Duration, len(got))
	for i, s := range got {
		rtts[i] = s.RTT
	}
	slices.Sort(rtts)
	pct := func(p float64) api.Duration { return api.Duration(rtts[int(p*float64(len(rtts)-1)+0.5)]) }
	r.LatencyP50, r.LatencyP99, r.LatencyMax = pct(0.50), pct(0.99), api.Duration(rtts[len(rtts)-1])
}
