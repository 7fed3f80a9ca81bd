package testbed

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
)

// prefetchRanges is the fixed working set of TestIntegrationPostcopyPrefetch
// (migratord --debug-prefetch): the first 16 MiB of pc.ram, and three
// ranges QEMU would refuse (an unknown block, a misaligned start, 1 TiB in:
// past the guest's RAM), which validation must keep from it.
const prefetchRanges = "pc.ram:0:0x1000000,nope:0:0x1000,pc.ram:0x800:0x1000,pc.ram:0x10000000000:0x4000"

// TestIntegrationPostcopyPrefetch: the fast-dirtying guest of
// TestIntegrationMigrationPostcopy goes to post-copy with working-set
// prefetch on, there and back (plain, then coded pipe); at the switch the
// source agent injects page requests for a fixed working set on the return
// path. Each migration completes, the guest's memory is intact, and the
// record counts the injected pages and the refused ones.
func TestIntegrationPostcopyPrefetch(t *testing.T) {
	env := requireTestbed(t)
	env = env.WithAgentArgs("", "--debug-prefetch", prefetchRanges)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	prev := startGuest(ctx, t, env, "hostA", fastDirtyArgs...)
	refused := map[string]int64{prefetch.RefusedUnknownBlock: 1, prefetch.RefusedMisaligned: 1, prefetch.RefusedOutOfRange: 4}

	for _, mv := range []struct{ from, to, codec string }{
		{"hostA", "hostB", api.CodecNone},
		{"hostB", "hostA", api.CodecAuto},
	} {
		m := migrate(ctx, t, env, mv.from, api.MigrateRequest{VM: "fw1", To: mv.to, Codec: mv.codec,
			Bandwidth: fastCap, Postcopy: api.PostcopyAuto, PostcopyPrefetch: api.PrefetchWorkingSet})
		t.Logf("%s (codec %s): %s in %v, downtime %v, post-copy requests %d, prefetch %+v",
			m.ID, mv.codec, m.State, m.TotalTime, m.QEMUDowntime, m.RAM.PostcopyRequests, m.Prefetch)
		if m.State != api.MigrationCompleted || !m.Postcopy {
			t.Fatalf("%s: %s (post-copy %v): %s, want completed through post-copy", m.ID, m.State, m.Postcopy, m.Reason)
		}
		p := m.Prefetch
		switch {
		case p == nil:
			t.Fatal("no prefetch report in the record")
		case p.Mode != api.PrefetchWorkingSet || p.Planned != 4096 || !maps.Equal(p.Refused, refused):
			t.Fatalf("prefetch %+v: want working-set, 4096 pages planned, refused %v", p, refused)
		case p.Pages == 0 || p.Requests == 0:
			t.Fatalf("prefetch %+v: nothing injected", p)
		}
		if p.Stopped != "" {
			t.Logf("injection stopped before the end: %s (%d of %d pages)", p.Stopped, p.Pages, p.Planned)
		}
		got := settled(ctx, t, env, mv.to, 2)
		sameGuest(t, prev, got)
		absentFrom(ctx, t, env, mv.from, "fw1")
		prev = got
	}
}
