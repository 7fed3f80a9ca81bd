package verify

import (
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// bufferSpan is when the source held the VM's packets in BUFFER: from the
// start of the switchover phase (the source enters BUFFER as it begins),
// for as long as the source reports the mode lasted.
func (t *timeline) bufferSpan() (from, to time.Time, ok bool) {
	h := t.m.Handoff
	if h == nil || h.Source.Modes["buffer"] <= 0 {
		return from, to, false
	}
	for _, ph := range t.m.Phases {
		if ph.Name == "switchover" {
			return ph.Start, ph.Start.Add(time.Duration(h.Source.Modes["buffer"])), true
		}
	}
	return from, to, false
}

// handoffLine is the header's line about the hand-off, "" without one.
func (t *timeline) handoffLine() string {
	h := t.m.Handoff
	if h == nil {
		return ""
	}
	s := fmt.Sprintf("hand-off: %d buffered, %d flushed, %d held, %d forwarded, %d dropped",
		h.Source.Buffered, h.Source.Flushed, h.Destination.Held, h.Source.Forwarded, t.r.HandoffDropped)
	if r := DropReasons(h); r != "" {
		s += " (" + r + ")"
	}
	s += fmt.Sprintf(", %d GARPs", h.Destination.GARPs)
	if d := h.Source.Modes["buffer"]; d > 0 {
		s += ", BUFFER " + fmtMS(api.Duration(d)) + " (brown strip)"
	}
	return s
}
