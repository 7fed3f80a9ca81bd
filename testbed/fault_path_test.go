package testbed

import (
	"context"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// rolledBackWithin bounds how long after a cut path the source must have
// rolled back: the agents declare a silent peer dead after 2 s.
const rolledBackWithin = 5 * time.Second

// TestIntegrationPathCut cuts the agents' path between hostA and hostB
// (their QUIC and lanes silently dropped) in the middle of a migration
// under TWAMP-light at 500 pps, in pre-copy and in BUFFER. Within 5 s the
// source has rolled back: its record failed with a reason, the guest runs
// on hostA only, the same boot with its memory intact; once the path is
// restored hostB has no trace of it. Nothing was dropped and no TWAMP
// packet lost, duplicated or reordered: the frames buffered go back into
// the source's tap.
func TestIntegrationPathCut(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	// BUFFER lasts 3 s longer than it would: time to cut the path in it.
	env = env.WithAgentArgs("hostA", "--debug-switchover-delay", "3s")
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	last := startHandoffGuest(ctx, t, env, "hostA")
	c := api.NewClient(env.Socket("hostA"))
	vm, err := c.GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		req   api.MigrateRequest
		phase Phase
	}{
		// 2 MiB/s: pre-copy lasts long enough to cut the path in it.
		{"in pre-copy", api.MigrateRequest{VM: "fw1", To: "hostB", Bandwidth: 2 << 20, InitialBandwidth: 2 << 20}, PhasePrecopy},
		{"in BUFFER", api.MigrateRequest{VM: "fw1", To: "hostB"}, PhaseSwitchover},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := faultTraffic(ctx, t)
			m, err := c.Migrate(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.WaitPhase(ctx, "hostA", "fw1", tc.phase); err != nil {
				t.Fatal(err)
			}
			if err := env.CutPath(ctx, "hostA", "hostB"); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			restored := false
			restore := func() {
				if restored {
					return
				}
				restored = true
				n, err := env.RestorePath(context.WithoutCancel(ctx), "hostA", "hostB")
				if err != nil {
					t.Error(err)
				}
				t.Logf("path restored %v after the cut; the cut dropped %d packets", time.Since(cut).Round(time.Millisecond), n)
			}
			defer restore()
			t.Logf("%s: %s: cut the agents' path", m.ID, tc.phase)

			rec := waitMigration(ctx, t, c, m.ID)
			ended := time.Since(cut)
			onlyQEMU(ctx, t, env, "hostA", "fw1", vm.PID, cut.Add(rolledBackWithin))
			running := time.Since(cut)
			t.Logf("source record %s %v after the cut (%s); the guest runs on hostA alone %v after it",
				rec.State, ended.Round(time.Millisecond), rec.Reason, running.Round(time.Millisecond))
			time.Sleep(2 * time.Second) // traffic after the rollback
			rep := verify.Analyze(s.Stop(), nil, verify.Limits{})
			restore()
			if rec, err = c.GetMigration(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			var dropped uint64
			if rec.Handoff != nil {
				dropped = rec.Handoff.Source.DroppedTotal()
			}
			t.Logf("dataplane dropped %d; TWAMP sent %d lost %d dup %d reordered %d, largest gap %v",
				dropped, rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, time.Duration(rep.LargestGap))
			switch {
			case rec.State != api.MigrationFailed || rec.Reason == "":
				t.Fatalf("source record %s (%q), want failed with a reason", rec.State, rec.Reason)
			case ended > rolledBackWithin:
				t.Fatalf("the source's record ended %v after the cut, want within %v", ended, rolledBackWithin)
			case dropped != 0:
				t.Fatalf("the dataplane dropped %d frames, want 0 (%+v)", dropped, rec.Handoff.Source.Dropped)
			case rep.Sent == 0 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Reordered != 0:
				t.Fatalf("TWAMP sent %d, lost %d, duplicated %d, reordered %d: want 0 lost, duplicated, reordered",
					rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered)
			}
			got := guestOn(ctx, t, env, "hostA", "fw1")
			sameGuest(t, last, got)
			last = got
			goneFrom(ctx, t, env, "hostB", "fw1", time.Now().Add(recoveredWithin))
		})
		if t.Failed() {
			return
		}
	}
}
