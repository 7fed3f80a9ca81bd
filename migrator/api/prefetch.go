package api

// PrefetchReport is the source agent's account of the pages it asked its
// QEMU to send first in post-copy (MigrateRequest.PostcopyPrefetch).
type PrefetchReport struct {
	Mode string `json:"mode"` // PostcopyPrefetch
	// Requests injected on the return path, and the 4 KiB pages they
	// asked for (QEMU skips pages it already sent).
	Requests int64 `json:"requests"`
	Pages    int64 `json:"pages"`
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
