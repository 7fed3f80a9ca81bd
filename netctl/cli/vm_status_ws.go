package cli

import (
	"fmt"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// workingSetLine is the "working set" line of vm status: the latest
// report the agent holds of what the guest uses (post-copy fetches it
// first), or why there is none.
func workingSetLine(ws *api.WorkingSetStatus) string {
	if ws == nil {
		return "not read (the guest does not run here)"
	}
	var notes []string
	switch {
	case ws.Quiet:
		notes = append(notes, "port let go for a migration")
	case !ws.Connected:
		notes = append(notes, "port not connected")
	}
	if ws.Unanswered > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d requests unanswered", ws.Unanswered, ws.Asked))
	}
	if ws.Rejected > 0 {
		notes = append(notes, fmt.Sprintf("%d rejected", ws.Rejected))
	}
	if ws.Truncated {
		notes = append(notes, "TRUNCATED by the guest")
	}
	if ws.Dropped > 0 || ws.Clipped > 0 {
		notes = append(notes, fmt.Sprintf("%d ranges dropped and %d cut by the check", ws.Dropped, ws.Clipped))
	}
	tail := ""
	if len(notes) > 0 {
		tail = " (" + strings.Join(notes, ", ") + ")"
	}
	if ws.Received == 0 {
		return "no report yet" + tail
	}
	return fmt.Sprintf("%d pages (%s) in %d ranges, %d pages hot; report %d, %s old, %d received%s",
		ws.Pages, fmtBytes(ws.Pages*4096), ws.Ranges, ws.HotPages, ws.Seq,
		fmtDuration(ws.Age), ws.Received, tail)
}
