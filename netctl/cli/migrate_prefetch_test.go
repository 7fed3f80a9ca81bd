package cli

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestFmtPrefetch(t *testing.T) {
	p := &api.PrefetchReport{Mode: api.PrefetchWorkingSet, Requests: 4, Pages: 64, Sent: 40, Clean: 4000, Readahead: 8, Planned: 4096,
		Refused: map[string]int64{"out of range": 16, "misaligned": 1}, Rewritten: 2, Stopped: "the destination shut the return path",
		Faults: &api.PrefetchFaults{Before: 3, Asked: 5, Ahead: 7, Outside: 11}}
	want := "working-set: 64 of 4096 pages asked for first, in 4 requests (40 sent for them); 4000 there already, not asked for; 8 of them read ahead of the guest's sequential faults; pages refused: 1 misaligned, 16 out of range; " +
		"2 of the destination's requests named their block again; stopped: the destination shut the return path; " +
		"the destination's own requests: 3 before the prefetch, 5 asked for already, 7 not reached yet, 11 outside the working set"
	if got := fmtPrefetch(p); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
