package verify

// reorderWindow is how far a reply's reflector sequence number may be off
// the expected one (replies reordered on the way back, or reflected for
// packets whose replies were lost) without starting a new epoch.
const reorderWindow = 16

// epoch is a run of replies whose reflector sequence numbers belong to one
// counter: [lo, hi] relative to base, for sender seqs [slo, shi].
type epoch struct {
	base             uint32
	lo, hi           int64
	slo, shi         uint32
	answered, copies int
}

// reflector checks the reflector's sequence numbers in arrival order. Each
// reply's number must be next to the highest so far (within reorderWindow
// plus the packets lost in between); a bigger step, such as a restarted
// VNF counting from zero again, is a jump and starts a new epoch. Within
// an epoch the numbers used may exceed the replies received only by the
// packets lost (reflected, reply lost) and extra copies; more is a jump too.
func (r *Report) reflector(bySeq, got []Sample) {
	r.ReflectorSeqContinuous = true
	if len(got) == 0 {
		return
	}
	// lostUpTo[i] = lost packets among bySeq[:i].
	lostUpTo := make([]int, len(bySeq)+1)
	pos := make(map[uint32]int, len(bySeq))
	for i, s := range bySeq {
		pos[s.Seq] = i
		lostUpTo[i+1] = lostUpTo[i]
		if s.Lost() {
			lostUpTo[i+1]++
		}
	}
	lostBetween := func(a, b uint32) int64 { // exclusive of both ends
		i, j := pos[min(a, b)], pos[max(a, b)]
		return int64(lostUpTo[j] - lostUpTo[i+1])
	}
	r.ReflectorSeqFirst = got[0].ReflectorSeq
	start := func(s Sample) epoch {
		return epoch{base: s.ReflectorSeq, slo: s.Seq, shi: s.Seq, answered: 1, copies: s.Copies - 1}
	}
	closeEpoch := func(e epoch) {
		span := e.hi - e.lo + 1
		if span > int64(e.answered+e.copies)+lostBetween(e.slo, e.shi) {
			r.ReflectorSeqJumps++
		}
	}
	e, hiSample := start(got[0]), got[0]
	for _, s := range got[1:] {
		d := int64(int32(s.ReflectorSeq - hiSample.ReflectorSeq))
		slack := lostBetween(hiSample.Seq, s.Seq) + int64(hiSample.Copies-1)
		if d == 0 || d < -reorderWindow || d > 1+slack+reorderWindow {
			closeEpoch(e)
			r.ReflectorSeqJumps++
			e, hiSample = start(s), s
			continue
		}
		rel := int64(int32(s.ReflectorSeq - e.base))
		e.lo, e.hi = min(e.lo, rel), max(e.hi, rel)
		e.slo, e.shi = min(e.slo, s.Seq), max(e.shi, s.Seq)
		e.answered++
		e.copies += s.Copies - 1
		if d > 0 {
			hiSample = s
		}
	}
	closeEpoch(e)
	r.ReflectorSeqLast = hiSample.ReflectorSeq
	r.ReflectorSeqContinuous = r.ReflectorSeqJumps == 0
}
