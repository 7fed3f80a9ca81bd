package verify

import (
	"fmt"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// verdict decides Pass and writes the one-line Verdict.
func (r *Report) verdict(lim Limits) {
	var why []string
	if lim.MaxLost >= 0 && r.Lost > lim.MaxLost {
		why = append(why, fmt.Sprintf("%d lost (max %d)", r.Lost, lim.MaxLost))
	}
	if lim.MaxGap > 0 && time.Duration(r.LargestGap) > lim.MaxGap {
		why = append(why, fmt.Sprintf("largest gap %s (max %s) in %s", fmtMS(r.LargestGap), fmtMS(api.Duration(lim.MaxGap)), r.GapPhase))
	}
	if w := r.handoffWhy(lim); w != "" {
		why = append(why, w)
	}
	if !r.ReflectorSeqContinuous {
		why = append(why, fmt.Sprintf("reflector sequence broken %d times (VNF restarted?)", r.ReflectorSeqJumps))
	}
	if r.Sent == 0 {
		why = append(why, "no packets sent")
	} else if r.Received == 0 {
		why = append(why, "no replies")
	}
	r.Pass = len(why) == 0
	if r.Pass {
		r.Verdict = fmt.Sprintf("PASS: %d lost of %d, largest gap %s (%s)", r.Lost, r.Sent, fmtMS(r.LargestGap), r.GapPhase)
		if r.GapLost == 0 {
			r.Verdict = fmt.Sprintf("PASS: %d lost of %d, no gap (replies at most %s apart)", r.Lost, r.Sent, fmtMS(r.RecvGap))
		}
		if r.Handoff != nil {
			r.Verdict += fmt.Sprintf("; hand-off dropped %d", r.HandoffDropped)
		}
		return
	}
	r.Verdict = "FAIL: " + strings.Join(why, ", ")
	if lim.MaxLost < 0 || r.Lost <= lim.MaxLost {
		r.Verdict += fmt.Sprintf("; %d lost of %d", r.Lost, r.Sent)
	}
	if lim.MaxGap <= 0 || time.Duration(r.LargestGap) <= lim.MaxGap {
		r.Verdict += fmt.Sprintf(", largest gap %s in %s", fmtMS(r.LargestGap), r.GapPhase)
	}
}

// fmtMS prints a duration in whole milliseconds, or with one decimal below 10ms.
func fmtMS(d api.Duration) string {
	ms := time.Duration(d).Seconds() * 1000
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
