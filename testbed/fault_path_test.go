package testbed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// rolledBackWithin bounds how long after a cut path the source must have
// begun its rollback (the agents declare a silent peer dead after 2 s);
// resuming the guest follows at once, giving the buffered frames back
// takes as long as their replay, paced for the guest.
const rolledBackWithin = 5 * time.Second

// phaseNamed returns the last phase called name, nil if none.
func phaseNamed(phases []api.Phase, name string) *api.Phase {
	for i := len(phases) - 1; i >= 0; i-- {
		if phases[i].Name == name {
			return &phases[i]
		}
	}
	return nil
}

// TestIntegrationPathCut cuts the agents' path between hostA and hostB
// (their QUIC and lanes silently dropped) in the middle of a migration
// under TWAMP-light at 500 pps, in pre-copy and in BUFFER. Within 5 s the
// source has begun its rollback (the record's phase "rollback"): its
// record fails with a reason, the guest runs on hostA only, the same boot
// with its memory intact; once the path is restored hostB has no trace of
// it. Nothing was dropped and no TWAMP
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
			onlyQEMU(ctx, t, env, "hostA", "fw1", vm.PID, time.Now().Add(recoveredWithin))
			var began time.Duration
			if p := phaseNamed(rec.Phases, "rollback"); p != nil {
				began = p.Start.Sub(cut)
			}
			t.Logf("source: rollback began %v after the cut, record %s %v after it (%s)",
				began.Round(time.Millisecond), rec.State, ended.Round(time.Millisecond), rec.Reason)
			if began <= 0 || began > rolledBackWithin {
				t.Fatalf("the source's rollback began %v after the cut (phases %+v), want within %v", began, rec.Phases, rolledBackWithin)
			}
			last = rolledBack(ctx, t, env, s, m.ID, last, restore)
		})
		if t.Failed() {
			return
		}
	}
}

// rolledBack checks migration id of fw1, which its source (hostA) rolled
// back after a fault under faultTraffic s: with 2 s more traffic, every
// TWAMP packet was answered once and in order, the dataplane dropped
// nothing, the record failed with a reason; fw1 runs on hostA, the same
// boot as last with its memory intact, and hostB has no trace of it. Before
// the last check it calls undo (may be nil) to lift the fault. It returns
// the guest's status.
func rolledBack(ctx context.Context, t *testing.T, env Env, s *verify.Sender, id string, last api.GuestStatus, undo func()) api.GuestStatus {
	t.Helper()
	time.Sleep(2 * time.Second) // traffic after the rollback
	samples := s.Stop()
	rep := verify.Analyze(samples, nil, verify.Limits{})
	if undo != nil {
		undo()
	}
	rec, err := api.NewClient(env.Socket("hostA")).GetMigration(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var src api.HandoffStats
	if rec.Handoff != nil {
		src = rec.Handoff.Source
	}
	t.Logf("source buffered %d returned %d dropped %v; TWAMP sent %d lost %d dup %d reordered %d, largest gap %v",
		src.Buffered, src.Returned, src.Dropped, rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, time.Duration(rep.LargestGap))
	switch {
	case rec.State != api.MigrationFailed || rec.Reason == "":
		t.Fatalf("source record %s (%q), want failed with a reason", rec.State, rec.Reason)
	case src.DroppedTotal() != 0:
		t.Fatalf("the dataplane dropped %v, want nothing", src.Dropped)
	case rep.Sent == 0 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Reordered != 0:
		t.Errorf("TWAMP sent %d, lost %d, duplicated %d, reordered %d: want 0 lost, duplicated, reordered; %s",
			rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, lostRuns(samples, rec))
		if st, err := api.NewClient(env.Socket("hostA")).VMStatus(ctx, "fw1"); err == nil && st.Guest != nil {
			t.Logf("inside the guest since before the migration: %s", guestDrops(last, *st.Guest))
		}
		t.FailNow()
	}
	got := guestOn(ctx, t, env, "hostA", "fw1")
	sameGuest(t, last, got)
	goneFrom(ctx, t, env, "hostB", "fw1", time.Now().Add(recoveredWithin))
	return got
}

// lostRuns describes the runs of lost samples: their sequence numbers,
// when they were sent relative to the migration's start, and whether the
// reflector's own numbering skipped there (its answers were lost) or not
// (the requests never reached it).
func lostRuns(samples []verify.Sample, m api.Migration) string {
	var out []string
	for i := 0; i < len(samples); i++ {
		if !samples[i].Lost() {
			continue
		}
		j := i
		for j+1 < len(samples) && samples[j+1].Lost() {
			j++
		}
		where := "requests never answered"
		if i > 0 && j+1 < len(samples) && !samples[i-1].Lost() && samples[j+1].ReflectorSeq-samples[i-1].ReflectorSeq > 1 {
			where = "the reflector answered: answers lost"
		}
		out = append(out, fmt.Sprintf("seq %d-%d sent %v after the migration started (%s)",
			samples[i].Seq, samples[j].Seq, samples[i].Sent.Sub(m.Started).Round(time.Millisecond), where))
		i = j
	}
	for i := len(samples) - 1; i >= 0; i-- {
		if !samples[i].Lost() {
			out = append(out, fmt.Sprintf("the last answered, seq %d, sent %v and answered %v after the migration started; the last sent at %v",
				samples[i].Seq, samples[i].Sent.Sub(m.Started).Round(time.Millisecond), samples[i].Received.Sub(m.Started).Round(time.Millisecond),
				samples[len(samples)-1].Sent.Sub(m.Started).Round(time.Millisecond)))
			break
		}
	}
	return strings.Join(out, "; ")
}
