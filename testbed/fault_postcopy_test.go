package testbed

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// postcopyRate paces the agents' post-copy in TestIntegrationPostcopyRecovery
// (--debug-postcopy-rate): the ~185 MiB left at the switch take ~20 s,
// time to break the stream in the middle.
const postcopyRate = 8 << 20

// TestIntegrationPostcopyRecovery breaks a post-copy's stream in the middle,
// under TWAMP-light at 500 pps: the agents' path cut for 15 s then
// restored; the destination's agent killed (SIGKILL) and restarted; the
// source's agent killed and restarted; the destination's agent stopped
// (SIGTERM) and restarted. Each time both QEMUs pause, the
// source agent resumes the stream on a new connection (migrate-recover,
// migrate with resume) and the migration completes: one QEMU runs the
// guest, at the destination, the same boot with its memory intact; the
// source's record counts the recoveries; every TWAMP packet lost is counted
// as dropped by a dataplane, none duplicated or reordered. The guest moves
// back and forth, one break per move.
func TestIntegrationPostcopyRecovery(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	env = env.WithAgentArgs("", "--debug-postcopy-rate", strconv.Itoa(postcopyRate))
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	last := startHandoffGuest(ctx, t, env, "hostA")
	from, to := "hostA", "hostB"
	restart := func(sig syscall.Signal) func(ctx context.Context, to string) error {
		return func(ctx context.Context, to string) error {
			if err := env.StopAgent(ctx, to, sig); err != nil {
				return err
			}
			return env.StartAgents(ctx)
		}
	}
	for _, tc := range []struct {
		name  string
		fault func(ctx context.Context, to string) error
	}{
		{"path cut for 15 s", func(ctx context.Context, to string) error {
			if err := env.CutPath(ctx, "hostA", "hostB"); err != nil {
				return err
			}
			time.Sleep(15 * time.Second)
			_, err := env.RestorePath(ctx, "hostA", "hostB")
			return err
		}},
		{"destination agent killed", restart(syscall.SIGKILL)},
		{"source agent killed", func(ctx context.Context, to string) error {
			return restart(syscall.SIGKILL)(ctx, other(to))
		}},
		{"destination agent stopped", restart(syscall.SIGTERM)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { env.RestorePath(context.WithoutCancel(ctx), "hostA", "hostB") })
			src, dst := api.NewClient(env.Socket(from)), api.NewClient(env.Socket(to))
			s := faultTraffic(ctx, t)
			m, err := src.Migrate(ctx, postcopyMove(to))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.WaitPhase(ctx, from, "fw1", PhasePostcopy); err != nil {
				t.Fatal(err)
			}
			// QEMU 7.2 pauses a post-copy only once it is under way (a
			// break inside its start fails it).
			time.Sleep(time.Second)
			broke := time.Now()
			if err := tc.fault(ctx, to); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s at %s, %v into post-copy, for %v", m.ID, tc.name, broke.Format("15:04:05.000"), time.Second,
				time.Since(broke).Round(time.Millisecond))
			rec := waitMigration(ctx, t, src, m.ID)
			t.Logf("source record %s after %v (%d recoveries): %s; phases %v", rec.State,
				time.Since(broke).Round(time.Millisecond), rec.Recoveries, rec.Reason, phaseNames(rec.Phases))
			if rec.State != api.MigrationCompleted || rec.Recoveries < 1 {
				t.Fatalf("source record %s with %d recoveries (%s), want completed after a recovery", rec.State, rec.Recoveries, rec.Reason)
			}
			dm := waitMigration(ctx, t, dst, m.ID)
			if dm.State != api.MigrationCompleted {
				t.Fatalf("destination record %s (%s), want completed", dm.State, dm.Reason)
			}
			v, err := dst.GetVM(ctx, "fw1")
			if err != nil {
				t.Fatal(err)
			}
			onlyQEMU(ctx, t, env, to, "fw1", v.PID, time.Now().Add(recoveredWithin))
			goneFrom(ctx, t, env, from, "fw1", time.Now().Add(recoveredWithin))
			time.Sleep(2 * time.Second) // traffic after the move
			samples := s.Stop()
			rep := verify.Analyze(samples, nil, verify.Limits{})
			dm, err = dst.GetMigration(ctx, m.ID) // its account once the last release is over
			if err != nil {
				t.Fatal(err)
			}
			dropped := droppedIn(rec.Handoff, dm.Handoff)
			got := guestOn(ctx, t, env, to, "fw1")
			var byReason map[string]uint64
			var tripped uint64
			if dm.Handoff != nil {
				byReason, tripped = dm.Handoff.Destination.Dropped, dm.Handoff.Destination.GuardTripped
			}
			t.Logf("dropped %d in all (destination: %v); guard tripped %d; in the guest: %s; TWAMP sent %d lost %d dup %d reordered %d, largest gap %v",
				dropped, byReason, tripped, guestDrops(last, got), rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, time.Duration(rep.LargestGap))
			switch {
			case rep.Sent == 0 || uint64(rep.Lost) > dropped:
				t.Fatalf("TWAMP lost %d of %d, more than the %d frames the dataplanes counted as dropped", rep.Lost, rep.Sent, dropped)
			case rep.Duplicated != 0 || rep.Reordered != 0:
				t.Fatalf("TWAMP duplicated %d, reordered %d: want 0; %s", rep.Duplicated, rep.Reordered, outOfOrder(samples))
			}
			sameGuest(t, last, got)
			last = got
			from, to = to, from
		})
		if t.Failed() {
			return
		}
	}
}

// other is the other of the testbed's two hosts.
func other(host string) string {
	if host == "hostA" {
		return "hostB"
	}
	return "hostA"
}

// phaseNames lists the phases' names, in order.
func phaseNames(ps []api.Phase) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}
