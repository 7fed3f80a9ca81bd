package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// fmtPrefetch says what the source asked its QEMU to send first in
// post-copy, and what it left out.
func fmtPrefetch(p *api.PrefetchReport) string {
	s := fmt.Sprintf("%s: %d of %d pages asked for first, in %d requests (%d sent for them); %d there already, not asked for",
		p.Mode, p.Pages, p.Planned, p.Requests, p.Sent, p.Clean)
	if p.Readahead > 0 {
		s += fmt.Sprintf("; %d of them read ahead of the guest's sequential faults", p.Readahead)
	}
	if len(p.Refused) > 0 {
		var why []string
		for _, k := range slices.Sorted(maps.Keys(p.Refused)) {
			why = append(why, fmt.Sprintf("%d %s", p.Refused[k], k))
		}
		s += "; pages refused: " + strings.Join(why, ", ")
	}
	if p.Rewritten > 0 {
		s += fmt.Sprintf("; %d of the destination's requests named their block again", p.Rewritten)
	}
	if p.Stopped != "" {
		s += "; stopped: " + p.Stopped
	}
	if f := p.Faults; f != nil {
		s += fmt.Sprintf("; the destination's own requests: %d before the prefetch, %d asked for already, %d not reached yet, %d outside the working set",
			f.Before, f.Asked, f.Ahead, f.Outside)
	}
	return s
}
