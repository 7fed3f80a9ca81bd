package testbed

import (
	"context"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// prefetchRanges is the fixed working set of TestIntegrationPostcopyPrefetch
// (migratord --debug-prefetch): the first 16 MiB of pc.ram.
const prefetchRanges = "pc.ram:0:0x1000000"

// TestIntegrationPostcopyPrefetch: the fast-dirtying guest of
// TestIntegrationMigrationPostcopy goes to post-copy with working-set
// prefetch on; at the switch the source agent injects page requests for a
// fixed working set on the return path. The migration completes, the
// guest's memory is intact, and the record counts the injected pages, none
// refused by validation.
func TestIntegrationPostcopyPrefetch(t *testing.T) {
	env := requireTestbed(t)
	env = env.WithAgentArgs("", "--debug-prefetch", prefetchRanges)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	first := startGuest(ctx, t, env, "hostA", fastDirtyArgs...)

	m := migrate(ctx, t, env, "hostA", api.MigrateRequest{VM: "fw1", To: "hostB",
		Bandwidth: fastCap, Postcopy: api.PostcopyAuto, PostcopyPrefetch: api.PrefetchWorkingSet})
	t.Logf("%s: %s in %v, downtime %v, post-copy requests %d, prefetch %+v",
		m.ID, m.State, m.TotalTime, m.QEMUDowntime, m.RAM.PostcopyRequests, m.Prefetch)
	if m.State != api.MigrationCompleted || !m.Postcopy {
		t.Fatalf("%s: %s (post-copy %v): %s, want completed through post-copy", m.ID, m.State, m.Postcopy, m.Reason)
	}
	p := m.Prefetch
	switch {
	case p == nil:
		t.Fatal("no prefetch report in the record")
	case p.Mode != api.PrefetchWorkingSet || p.Planned != 4096 || len(p.Refused) > 0:
		t.Fatalf("prefetch %+v: want working-set, 4096 pages planned, none refused", p)
	case p.Pages == 0 || p.Requests == 0:
		t.Fatalf("prefetch %+v: nothing injected", p)
	}
	if p.Stopped != "" {
		t.Logf("injection stopped before the end: %s (%d of %d pages)", p.Stopped, p.Pages, p.Planned)
	}
	got := settled(ctx, t, env, "hostB", 2)
	sameGuest(t, first, got)
	absentFrom(ctx, t, env, "hostA", "fw1")
}
