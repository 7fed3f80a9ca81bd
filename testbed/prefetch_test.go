package testbed

import (
	"maps"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
)

// prefetchRanges is the fixed working set hostB's agent prefetches as a
// source in TestIntegrationMigrationPostcopy (migratord --debug-prefetch,
// which wins over the guest's reports): the first 16 MiB of pc.ram (4096
// pages), and three ranges QEMU would refuse (an unknown block, a
// misaligned start, 1 TiB in: past the guest's RAM), which validation must
// keep from it.
const prefetchRanges = "pc.ram:0:0x1000000,nope:0:0x1000,pc.ram:0x800:0x1000,pc.ram:0x10000000000:0x4000"

// prefetchRefused is what validation refuses of prefetchRanges, in pages.
var prefetchRefused = map[string]int64{prefetch.RefusedUnknownBlock: 1, prefetch.RefusedMisaligned: 1, prefetch.RefusedOutOfRange: 4}

// wantGuestPrefetch checks that m's post-copy sent the guest's reported
// working set first (--wss 64: at least 16384 pages): all of it valid, and
// each page asked for or known not to be sent again (clean), until the
// post-copy ended (the destination then shuts its return path: what was
// left had come by the background scan).
func wantGuestPrefetch(t *testing.T, m api.Migration) {
	t.Helper()
	p := m.Prefetch
	if p == nil || p.Mode != api.PrefetchWorkingSet || p.Planned < 16384 || p.Requests == 0 || p.Pages == 0 || len(p.Refused) != 0 ||
		(p.Pages-p.Readahead+p.Clean != p.Planned && p.Stopped != prefetch.StoppedReturnPathShut) {
		t.Fatalf("%s: prefetch %+v: want the guest's working set (at least 16384 pages) valid and asked for", m.ID, p)
	}
}

// wantFixedPrefetch checks that m's post-copy sent prefetchRanges first:
// its 4096 valid pages planned and looked through (asked for, or clean:
// QEMU would not send them again), the others refused by validation and
// counted by why.
func wantFixedPrefetch(t *testing.T, m api.Migration) {
	t.Helper()
	p := m.Prefetch
	switch {
	case p == nil:
		t.Fatalf("%s: no prefetch report in the record", m.ID)
	case p.Mode != api.PrefetchWorkingSet || p.Planned != 4096 || !maps.Equal(p.Refused, prefetchRefused):
		t.Fatalf("%s: prefetch %+v: want working-set, 4096 pages planned, refused %v", m.ID, p, prefetchRefused)
	case p.Pages+p.Clean == 0:
		t.Fatalf("%s: prefetch %+v: nothing looked through", m.ID, p)
	}
	if p.Requests == 0 {
		t.Logf("%s: all 4096 pages clean at the switch: nothing to ask for", m.ID)
	}
	if p.Stopped != "" {
		t.Logf("%s: injection stopped before the end: %s (%d of %d pages)", m.ID, p.Stopped, p.Pages, p.Planned)
	}
}
