package verify

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// synth makes n samples at rate pps, all answered in order with the
// reflector counting from rseq0 and an RTT of 1ms.
func synth(n, rate int, rseq0 uint32) []Sample {
	out := make([]Sample, n)
	iv := time.Second / time.Duration(rate)
	for i := range out {
		sent := t0.Add(time.Duration(i) * iv)
		out[i] = Sample{Seq: uint32(i), Sent: sent, Received: sent.Add(time.Millisecond), Copies: 1,
			ReflectorSeq: rseq0 + uint32(i), RTT: time.Millisecond, Arrival: i}
	}
	return out
}

// lose marks samples [from, to) lost and renumbers arrivals and reflector
// sequence numbers as a reflector that never saw them would.
func lose(s []Sample, from, to int) []Sample {
	arr, rseq := 0, s[0].ReflectorSeq
	for i := range s {
		if i >= from && i < to {
			s[i] = Sample{Seq: s[i].Seq, Sent: s[i].Sent, Arrival: -1}
			continue
		}
		s[i].Arrival, s[i].ReflectorSeq = arr, rseq
		arr++
		rseq++
	}
	return s
}

func phases() []api.Phase {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return []api.Phase{
		{Name: "setup", Start: at(-500), End: at(200)},
		{Name: "precopy", Start: at(200), End: at(3000)},
		{Name: "switchover", Start: at(3000), End: at(3150)},
		{Name: "cleanup", Start: at(3150), End: at(3300)},
	}
}

func TestAnalyzeNoLoss(t *testing.T) {
	r := Analyze(synth(5000, 1000, 7), phases(), Limits{MaxLost: 0, MaxGap: 100 * time.Millisecond})
	if r.Sent != 5000 || r.Received != 5000 || r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 {
		t.Fatalf("counts %+v", r)
	}
	if r.LargestGap != 0 || r.GapPhase != "none" || time.Duration(r.RecvGap) != time.Millisecond {
		t.Errorf("gap %v in %s, recv gap %v, want none and 1ms", r.LargestGap, r.GapPhase, r.RecvGap)
	}
	if !r.ReflectorSeqContinuous || r.ReflectorSeqFirst != 7 || r.ReflectorSeqLast != 5006 {
		t.Errorf("reflector %d..%d continuous %v", r.ReflectorSeqFirst, r.ReflectorSeqLast, r.ReflectorSeqContinuous)
	}
	if time.Duration(r.LatencyP50) != time.Millisecond || time.Duration(r.LatencyP99) != time.Millisecond {
		t.Errorf("latency %v %v", r.LatencyP50, r.LatencyP99)
	}
	if !r.Pass || r.Verdict != "PASS: 0 lost of 5000, no gap (replies at most 1.0ms apart)" {
		t.Errorf("verdict %q", r.Verdict)
	}
}

func TestAnalyzeSwitchoverBurst(t *testing.T) {
	// Packets 3010..3129 (sent 3.010s..3.129s) vanish during switchover.
	s := lose(synth(5000, 1000, 0), 3010, 3130)
	r := Analyze(s, phases(), Limits{MaxLost: 0})
	if r.Lost != 120 || r.GapLost != 120 {
		t.Fatalf("lost %d, in gap %d", r.Lost, r.GapLost)
	}
	if time.Duration(r.LargestGap) != 121*time.Millisecond {
		t.Errorf("gap %v, want 121ms", r.LargestGap)
	}
	if !r.GapStart.Equal(t0.Add(3009*time.Millisecond)) || !r.GapEnd.Equal(t0.Add(3130*time.Millisecond)) {
		t.Errorf("gap %v..%v", r.GapStart, r.GapEnd)
	}
	if r.GapPhase != "switchover" {
		t.Errorf("phase %q", r.GapPhase)
	}
	if !r.ReflectorSeqContinuous {
		t.Errorf("reflector jumps %d", r.ReflectorSeqJumps)
	}
	if r.Pass || r.Verdict != "FAIL: 120 lost (max 0), largest gap 121ms in switchover" {
		t.Errorf("verdict %q", r.Verdict)
	}
	// Loss allowed, gap limited.
	r = Analyze(s, phases(), Limits{MaxLost: -1, MaxGap: 100 * time.Millisecond})
	if r.Pass || r.Verdict != "FAIL: largest gap 121ms (max 100ms) in switchover; 120 lost of 5000" {
		t.Errorf("verdict %q", r.Verdict)
	}
	r = Analyze(s, phases(), Limits{MaxLost: 200, MaxGap: 200 * time.Millisecond})
	if !r.Pass || r.Verdict != "PASS: 120 lost of 5000, largest gap 121ms (switchover)" {
		t.Errorf("verdict %q", r.Verdict)
	}
	if got := Analyze(s, nil, Limits{}).GapPhase; got != "none" {
		t.Errorf("no phases: %q", got)
	}
}

func TestAnalyzeLossOnReturnPath(t *testing.T) {
	// Replies lost after the reflector counted them: its sequence skips.
	s := synth(100, 1000, 0)
	for i := 40; i < 45; i++ {
		s[i] = Sample{Seq: s[i].Seq, Sent: s[i].Sent, Arrival: -1}
	}
	for i := 45; i < 100; i++ {
		s[i].Arrival -= 5
	}
	r := Analyze(s, nil, Limits{MaxLost: -1})
	if !r.ReflectorSeqContinuous || r.Lost != 5 || !r.Pass {
		t.Fatalf("%+v", r)
	}
}

func TestAnalyzeEdgeLoss(t *testing.T) {
	s := lose(synth(100, 1000, 0), 90, 100)
	r := Analyze(s, nil, Limits{MaxLost: -1})
	if time.Duration(r.LargestGap) != 10*time.Millisecond || r.GapLost != 10 {
		t.Errorf("trailing loss: gap %v lost in gap %d", r.LargestGap, r.GapLost)
	}
	s = lose(synth(100, 1000, 0), 0, 20)
	r = Analyze(s, nil, Limits{MaxLost: -1})
	if time.Duration(r.LargestGap) != 20*time.Millisecond || r.GapLost != 20 {
		t.Errorf("leading loss: gap %v lost in gap %d", r.LargestGap, r.GapLost)
	}
	r = Analyze(lose(synth(10, 1000, 0), 0, 10), nil, Limits{MaxLost: -1})
	if r.Pass || r.Received != 0 || !strings.Contains(r.Verdict, "no replies") {
		t.Errorf("all lost: %q", r.Verdict)
	}
	if r := Analyze(nil, nil, Limits{}); r.Pass || r.GapPhase != "none" {
		t.Errorf("empty: %+v", r)
	}
}

func TestAnalyzeSenderPause(t *testing.T) {
	// The sender paused 40ms (nothing sent, nothing lost): not a gap.
	s := synth(200, 1000, 0)
	for i := 100; i < 200; i++ {
		s[i].Sent = s[i].Sent.Add(40 * time.Millisecond)
		s[i].Received = s[i].Received.Add(40 * time.Millisecond)
	}
	r := Analyze(s, nil, Limits{MaxLost: 0, MaxGap: 10 * time.Millisecond})
	if !r.Pass || r.LargestGap != 0 || time.Duration(r.RecvGap) != 41*time.Millisecond {
		t.Errorf("gap %v recv gap %v: %s", r.LargestGap, r.RecvGap, r.Verdict)
	}
	if !r.RecvGapStart.Equal(s[99].Received) || r.RecvGapPhase != "none" {
		t.Errorf("recv gap from %v in %s, want from reply 99's arrival %v, no phases", r.RecvGapStart, r.RecvGapPhase, s[99].Received)
	}
	// Where it falls in the migration's phases.
	t0 := s[0].Sent
	phases := []api.Phase{{Name: "precopy", Start: t0, End: s[99].Received.Add(5 * time.Millisecond)},
		{Name: "switchover", Start: s[99].Received.Add(5 * time.Millisecond), End: s[199].Received}}
	if r := Analyze(s, phases, Limits{MaxLost: -1}); r.RecvGapPhase != "switchover" {
		t.Errorf("recv gap in %s, want switchover (36 of its 41 ms)", r.RecvGapPhase)
	}
	// One loss next to the pause makes the whole interval a gap.
	s = lose(s, 100, 101)
	if r := Analyze(s, nil, Limits{MaxLost: -1}); time.Duration(r.LargestGap) != 42*time.Millisecond || r.GapLost != 1 {
		t.Errorf("gap %v lost %d", r.LargestGap, r.GapLost)
	}
}

func TestAnalyzeDuplicates(t *testing.T) {
	s := synth(100, 1000, 0)
	s[10].Copies = 2 // reply duplicated on the way back
	s[20].Copies = 3 // request duplicated: the reflector counted it 3 times
	for i := 21; i < 100; i++ {
		s[i].ReflectorSeq += 2
	}
	r := Analyze(s, nil, Limits{MaxLost: 0})
	if r.Duplicated != 3 || !r.ReflectorSeqContinuous || !r.Pass {
		t.Fatalf("duplicated %d continuous %v verdict %q", r.Duplicated, r.ReflectorSeqContinuous, r.Verdict)
	}
}

func TestAnalyzeReordering(t *testing.T) {
	s := synth(100, 1000, 0)
	// Requests 50 and 51 swapped before the reflector: arrivals 51, 50.
	s[50].Arrival, s[51].Arrival = 51, 50
	s[50].ReflectorSeq, s[51].ReflectorSeq = 51, 50
	// Replies of 70..72 arrive after 73 (reordered on the way back).
	s[70].Arrival, s[71].Arrival, s[72].Arrival, s[73].Arrival = 71, 72, 73, 70
	r := Analyze(s, nil, Limits{MaxLost: 0})
	if r.Reordered != 4 {
		t.Errorf("reordered %d, want 4", r.Reordered)
	}
	if !r.ReflectorSeqContinuous || !r.Pass {
		t.Errorf("reflector jumps %d verdict %q", r.ReflectorSeqJumps, r.Verdict)
	}
}

func TestAnalyzeReflectorRestart(t *testing.T) {
	s := synth(3000, 1000, 0)
	for i := 2000; i < 3000; i++ {
		s[i].ReflectorSeq = uint32(i - 2000) // the VNF came back from a reboot
	}
	r := Analyze(s, phases(), Limits{MaxLost: 0})
	if r.ReflectorSeqContinuous || r.ReflectorSeqJumps != 1 || r.Pass {
		t.Fatalf("jumps %d continuous %v pass %v", r.ReflectorSeqJumps, r.ReflectorSeqContinuous, r.Pass)
	}
	if !strings.Contains(r.Verdict, "reflector sequence broken 1 times") {
		t.Errorf("verdict %q", r.Verdict)
	}
	// A forward jump (another reflector's counter) also counts.
	s = synth(100, 1000, 0)
	for i := 50; i < 100; i++ {
		s[i].ReflectorSeq += 1000
	}
	if r := Analyze(s, nil, Limits{MaxLost: 0}); r.ReflectorSeqJumps != 1 {
		t.Errorf("forward jump: %d", r.ReflectorSeqJumps)
	}
}

func TestPhaseAt(t *testing.T) {
	ph := phases()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		from, to int
		want     string
	}{
		{2990, 3100, "switchover"}, {2900, 3050, "precopy"}, {100, 100, "setup"}, {9000, 9100, "none"},
	} {
		if got := phaseAt(ph, at(c.from), at(c.to)); got != c.want {
			t.Errorf("%d..%d: %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

func TestAnalyzeReflectorSmallSkip(t *testing.T) {
	// Three reflector numbers used with no packet lost to explain them.
	s := synth(100, 1000, 0)
	for i := 50; i < 100; i++ {
		s[i].ReflectorSeq += 3
	}
	if r := Analyze(s, nil, Limits{MaxLost: 0}); r.ReflectorSeqContinuous || r.Pass {
		t.Errorf("unexplained skip: jumps %d pass %v", r.ReflectorSeqJumps, r.Pass)
	}
}

// TestSecondMedians: one median per second of the run, a lost packet as
// infinitely late, a second without packets as 0.
func TestSecondMedians(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	var ss []Sample
	add := func(at, rtt time.Duration, lost bool) {
		s := Sample{Sent: t0.Add(at)}
		if !lost {
			s.RTT, s.Received = rtt, s.Sent.Add(rtt)
		}
		ss = append(ss, s)
	}
	add(0, 1*time.Millisecond, false)
	add(300*time.Millisecond, 3*time.Millisecond, false)
	add(600*time.Millisecond, 2*time.Millisecond, false)
	add(1100*time.Millisecond, 0, true)
	add(1500*time.Millisecond, 0, true)
	add(1700*time.Millisecond, 5*time.Millisecond, false)
	got := SecondMedians(ss, 3*time.Second)
	want := []time.Duration{2 * time.Millisecond, math.MaxInt64, 0}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if SecondMedians(nil, time.Second) != nil {
		t.Error("medians of no samples")
	}
}
