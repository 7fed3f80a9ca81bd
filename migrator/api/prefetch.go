package api

// PrefetchReport is the source agent's account of the pages it asked its
// QEMU to send first in post-copy (MigrateRequest.PostcopyPrefetch).
type PrefetchReport struct {
	Mode string `json:"mode"` // PostcopyPrefetch
	// Requests injected on the return path, and the 4 KiB pages they
	// asked for: with QEMU's discards parsed, only pages it still had to
	// send; without, every planned page (QEMU skips those it need not
	// send again).
	Requests int64 `json:"requests"`
	Pages    int64 `json:"pages"`
	// Sent are the asked pages QEMU sent while asked for (the main
	// channel's page records); it skipped the others, there already.
	Sent int64 `json:"sent"`
	// Clean are the planned pages not asked for: not to be sent again
	// (QEMU's discards at the switch said so), or sent before injection
	// got to them.
	Clean int64 `json:"clean"`
	// Readahead are the asked pages that followed the destination's
	// sequential requests (a guest writing in order), ahead of the plan.
	Readahead int64 `json:"readahead,omitempty"`
	// Planned are the pages of the valid ranges of the working set.
	Planned int64 `json:"planned"`
	// Refused are the pages of ranges QEMU would have refused (a request
	// it refuses fails the migration), by why: unknown block, misaligned,
	// out of range, empty.
	Refused map[string]int64 `json:"refused,omitempty"`
	// Rewritten counts the destination's page requests given their block
	// name again (QEMU would have read them against an injected block).
	Rewritten int64 `json:"rewritten,omitempty"`
	// Stopped says why injection stopped before the working set was all
	// asked for ("" it did not).
	Stopped string `json:"stopped,omitempty"`
	// Faults sorts the destination's own page requests by what the
	// working set knew of them.
	Faults *PrefetchFaults `json:"faults,omitempty"`
}

// PrefetchFaults sorts the destination's own page requests (its guest's
// faults, and its QEMU's): those before injection started (the destination
// loading its devices), those in the working set already asked for (on
// their way: the prefetch was late), those in it not asked for yet (the
// prefetch had not got there), and those outside it (the report missed
// them: kernel memory, pages of other programs).
type PrefetchFaults struct {
	Before  int64 `json:"before"`
	Asked   int64 `json:"asked"`
	Ahead   int64 `json:"ahead"`
	Outside int64 `json:"outside"`
}

// RemoteFaults are the page requests the guest's faults made at the
// destination in post-copy: QEMU's count (postcopy-requests, every request
// its return path brought) less those the source agent injected.
func (m Migration) RemoteFaults() uint64 {
	n := m.RAM.PostcopyRequests
	if m.Prefetch != nil && m.Prefetch.Requests > 0 {
		n -= min(n, uint64(m.Prefetch.Requests))
	}
	return n
}
