package agent

import (
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// workingSetFresh is how old a guest's working-set report may have been
// when the migration quieted its port (at its start) for the source to
// send it first after a switch to post-copy: the agent asks every second;
// an older one means the guest stopped answering (a stale set costs
// bandwidth ahead of the background scan, never correctness).
const workingSetFresh = 5 * time.Second

// ramBlock is the RAM block a guest-physical frame lives in, for the
// machine the launcher builds (pc-i440fx): "pc.ram" from offset 0 up to
// the PCI hole, whose start depends on the RAM size and the machine's
// options; below lowIdentity it is always the address itself. Frames
// above it are left out: these guests (a few GiB at most) have none, and
// a wrong guess would only be refused by the injector's checks.
const (
	ramBlock    = "pc.ram"
	lowIdentity = 3 << 30 // 0xc0000000: the lowest start of the i440fx PCI hole
)

// workingSetRanges maps a checked report onto QEMU's RAM block, hottest
// first, leaving out frames beyond lowIdentity.
func workingSetRanges(c wsreport.Checked) []prefetch.Range {
	const page = 4096
	out := make([]prefetch.Range, 0, len(c.Ranges))
	for _, r := range c.Ranges {
		start, end := r.Start*page, min(r.End()*page, lowIdentity)
		if start >= end {
			continue
		}
		out = append(out, prefetch.Range{Block: ramBlock, Start: start, Len: end - start})
	}
	return out
}

// workingSet is the session's source of the guest's working set: the
// latest report of the VM, if it was fresh when the migration quieted the
// port (none otherwise, and why).
func (a *Agent) workingSet(vm string) func() ([]prefetch.Range, string) {
	return func() ([]prefetch.Range, string) {
		l, ok := a.latestReport(vm)
		if !ok {
			return nil, "the guest has sent no report"
		}
		if age := l.Staleness(time.Now()); age > workingSetFresh {
			return nil, fmt.Sprintf("the guest's last report was %v old when the migration let go of its port (fresh: within %v)",
				age.Round(time.Millisecond), workingSetFresh)
		}
		return workingSetRanges(l.Checked), ""
	}
}
