package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/cli"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// evacRates are the TWAMP-light rates per guest the evacuation test tries,
// highest first: it takes the first at which all four guests, probed at
// twice that rate at once, keep bounded latency (see verify.Probe.Bounded).
// The headroom is for the move: coding the gang's pages costs the source
// agent CPU that the four guests' TCG QEMUs share on these two cores.
var evacRates = []int{500, 250, 100}

// evacSharedMiB is the content every guest of the evacuation holds alike
// (the vnf's --mix shared=, same seed): the gang sends it once, the guests
// moved later refer to it.
const evacSharedMiB = 12

// TestIntegrationEvacuateQEMUKilled evacuates hostA (four guests, each
// under TWAMP-light) to hostB with netctl evacuate --codec auto --parallel
// 2, and kills (SIGKILL) the destination QEMU of the third guest to start
// moving while it is in pre-copy (one guest moved, the fourth moving or
// waiting):
// netctl exits non-zero and its JSON says which moved; the killed one's
// move fails and rolls back, the others complete. Every guest then runs
// once, the same boot with its memory intact, the three on hostB and the
// killed one on hostA in its old QEMU; hostB keeps nothing of it; no test
// packet of any guest was lost, duplicated or reordered and the hand-off
// dropped nothing (the broadcasts the killed one's destination held are
// let go on the rollback, not dropped). The last guest to start,
// still moving when the stream broke, refers to the content the gang
// sent before.
func TestIntegrationEvacuateQEMUKilled(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a := api.NewClient(env.Socket("hostA"))
	b := api.NewClient(env.Socket("hostB"))

	type guest struct {
		ip     netip.Addr
		before api.GuestStatus
		vm     api.VM // on hostA, before the evacuation
		s      *verify.Sender
	}
	names := []string{"ev1", "ev2", "ev3", "ev4"} // netctl evacuate's order
	ips := make([]netip.Addr, len(names))
	gs := map[string]*guest{}
	for i, name := range names {
		ips[i] = netip.MustParseAddr(fmt.Sprintf("198.18.0.%d", 130+i))
		gs[name] = &guest{ip: ips[i]}
		// Small, quiet guests, as in TestIntegrationConcurrentMigrations:
		// their TCG QEMUs, the destination's and the coding agents share
		// the two cores.
		args := []string{"--host", "hostA", "vm", "start", name, "--ip", ips[i].String() + "/24", "--gw", gateway, "--mem", "128",
			"--", "--mix", fmt.Sprintf("shared=%d:unique=2:text=2", evacSharedMiB), "--dirty-rate", "1", "--verify-rate", "2"}
		if _, _, err := env.Netctl(ctx, args...); err != nil {
			t.Fatalf("vm start %s: %v", name, err)
		}
	}
	for _, name := range names {
		g := gs[name]
		g.before = guestStatus(ctx, t, a, name)
		vm, err := a.GetVM(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		g.vm = vm
	}

	rate := 0
	for _, r := range evacRates {
		if boundedAtOnce(ctx, t, names, ips, 2*r) {
			rate = r
			break
		}
	}
	if rate == 0 {
		t.Fatalf("%d guests do not sustain %d pps each at once: this machine is too slow for the test", len(names), 2*evacRates[len(evacRates)-1])
	}
	t.Logf("evacuating %d guests, each under %d pps (they keep bounded latency at %d pps at once)", len(names), rate, 2*rate)
	for _, name := range names {
		s, err := verify.Start(ctx, verify.Config{Target: netip.AddrPortFrom(gs[name].ip, twamp.Port), Rate: rate, Netns: "nfh-client", Drain: faultDrain}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop() })
		gs[name].s = s
	}
	time.Sleep(time.Second)

	type outcome struct {
		out, stderr string
		err         error
	}
	done := make(chan outcome, 1)
	go func() {
		// 24 MiB/s per guest, as TestIntegrationConcurrentMigrations caps
		// its streams: the guests keep their share of the cores, and a
		// pre-copy lasts long enough to kill a QEMU in it.
		out, stderr, err := env.Netctl(ctx, "--host", "hostA", "evacuate", "--to", "hostB",
			"--codec", "auto", "--parallel", "2", "--bandwidth", "24MiB", "-o", "json")
		done <- outcome{out, stderr, err}
	}()
	victim := nthStarted(ctx, t, a, names, 3, done)
	rec, err := env.WaitPhase(ctx, "hostA", victim, PhasePrecopy)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := env.KillQEMU(ctx, "hostB", victim)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: pre-copy, %d bytes sent: killed hostB's QEMU %d", victim, rec.ID, rec.Progress.Transferred, pid)
	var ev outcome
	select {
	case ev = <-done:
	case <-ctx.Done():
		t.Fatalf("netctl evacuate did not end: %v", ctx.Err())
	}
	var res cli.GangResult
	if err := json.Unmarshal([]byte(ev.out), &res); err != nil {
		t.Fatalf("netctl evacuate -o json: %v (exit: %v)\n%s\n%s", err, ev.err, ev.out, ev.stderr)
	}
	t.Logf("netctl evacuate: %v", ev.err)
	if ev.err == nil {
		t.Errorf("netctl evacuate exited 0 with %s's move failed", victim)
	}
	time.Sleep(2 * time.Second) // traffic after the moves

	var got []string
	var last api.Migration // the last to start
	for _, m := range res.Migrations {
		got = append(got, m.VM)
		g := gs[m.VM]
		if g == nil {
			t.Fatalf("the gang moved %s, not one of ours", m.VM)
		}
		if m.Started.After(last.Started) {
			last = m
		}
		samples := g.s.Stop()
		rep := verify.Analyze(samples, nil, verify.Limits{})
		var src, dst api.HandoffStats
		if m.Handoff != nil {
			src = m.Handoff.Source
		}
		dm, err := b.GetMigration(ctx, m.ID)
		if err == nil && dm.Handoff != nil {
			dst = dm.Handoff.Destination
		}
		var refs, pages int64
		if m.Codec != nil {
			refs, pages = m.Codec.Refs, m.Codec.Pages
		}
		t.Logf("%s %s: %s (%s), paused %v, wire %d, %d of %d pages as references; TWAMP sent %d lost %d dup %d reordered %d, largest gap %v, p99 %v; source buffered %d flushed %d returned %d dropped %v; destination held %d released %d rollback flooded %d dropped %v",
			m.VM, m.ID, m.State, m.Reason, time.Duration(m.Paused), m.WireBytes, refs, pages, rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered,
			time.Duration(rep.LargestGap), time.Duration(rep.LatencyP99), src.Buffered, src.Flushed, src.Returned, src.Dropped, dst.Held, dst.Released, dst.RollbackFlooded, dst.Dropped)
		want, dstDropped := api.MigrationCompleted, dst.DroppedTotal()
		if m.VM == victim {
			// Its destination held the broadcasts and multicasts its
			// bridge flooded to the new tap (seen on hostB's uplink: the
			// other guests announcing themselves as they arrived, GARPs,
			// QEMU's RARPs, IPv6 all-nodes and MLD; 7-31 frames, none
			// addressed to this guest) and lets them go on the rollback,
			// counted as rollback_flooded, not as drops: the guest had
			// them on the source too.
			want = api.MigrationFailed
		}
		switch {
		case m.State != want || (want == api.MigrationFailed && m.Reason == ""):
			t.Errorf("%s: %s (%q), want %s", m.VM, m.State, m.Reason, want)
		case err != nil || (dm.State == api.MigrationCompleted) != (want == api.MigrationCompleted):
			t.Errorf("%s: hostB's record %s (%q), %v: want %s", m.VM, dm.State, dm.Reason, err, want)
		case m.Request.Gang != res.Gang:
			t.Errorf("%s: gang %q, want %q", m.VM, m.Request.Gang, res.Gang)
		case rep.Sent == 0 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Reordered != 0:
			t.Errorf("%s: TWAMP sent %d, lost %d, duplicated %d, reordered %d: want 0 lost, duplicated, reordered; %s; phases %s",
				m.VM, rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, lostRuns(samples, m), phaseTimes(m.Phases))
		case src.DroppedTotal()+dstDropped != 0:
			t.Errorf("%s: the hand-off dropped %v at the source, %v at the destination: want nothing", m.VM, src.Dropped, dst.Dropped)
		}
	}
	if !slices.Equal(got, names) || res.From != "hostA" || res.To != "hostB" {
		t.Fatalf("the gang %s moved %v from %s to %s, want %v from hostA to hostB", res.Gang, got, res.From, res.To, names)
	}
	if t.Failed() {
		return
	}

	// The killed one: on hostA alone, in its old QEMU; hostB keeps nothing.
	onlyQEMU(ctx, t, env, "hostA", victim, gs[victim].vm.PID, time.Now().Add(recoveredWithin))
	goneFrom(ctx, t, env, "hostB", victim, time.Now().Add(recoveredWithin))
	if err := exec.Command("ip", "-n", "nfh-hostB", "link", "show", gs[victim].vm.Tap).Run(); err == nil {
		t.Fatalf("%s's tap %s left on hostB", victim, gs[victim].vm.Tap)
	}
	for _, name := range names {
		host, c, away := "hostB", b, "hostA"
		if name == victim {
			host, c, away = "hostA", a, "hostB"
		}
		st := guestStatus(ctx, t, c, name)
		vm, err := c.GetVM(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if pids := qemuOf(env, name); !slices.Equal(pids, []int{vm.PID}) {
			t.Fatalf("%s: QEMUs %v across the hosts, want only %s's %d", name, pids, host, vm.PID)
		}
		absentFrom(ctx, t, env, away, name)
		sameGuest(t, gs[name].before, st)
	}
	// The gang's store outlived the broken stream: the guest that started
	// last, still moving when it broke, refers to the shared content (at
	// least half of it, as in TestIntegrationGang).
	if want := int64(evacSharedMiB << 20 / 4096 / 2); last.VM == victim || last.Codec == nil || last.Codec.Refs < want {
		t.Fatalf("%s, started last, sent %+v: want at least %d pages as references to the gang's content", last.VM, last.Codec, want)
	}
}

// nthStarted waits until the nth migration (counting from 1, by start)
// of one of vms from c's host has started and returns its VM; it fails if
// the migrations' driver (done) ends first.
func nthStarted[T any](ctx context.Context, t *testing.T, c *api.Client, vms []string, n int, done <-chan T) string {
	t.Helper()
	for {
		list, err := c.ListMigrations(ctx)
		var started []api.Migration
		for _, m := range list {
			if m.Role == "source" && slices.Contains(vms, m.VM) {
				started = append(started, m)
			}
		}
		if len(started) >= n {
			slices.SortFunc(started, func(x, y api.Migration) int { return x.Started.Compare(y.Started) })
			return started[n-1].VM
		}
		select {
		case o := <-done:
			t.Fatalf("the migrations ended with %d of %v started, waiting for the %dth: %+v (last list error %v)", len(started), vms, n, o, err)
		case <-ctx.Done():
			t.Fatalf("waiting for the %dth migration of %v: %v", n, vms, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// boundedAtOnce probes the guests at ips (named names) at rate each, all
// at once (probeAt for probeFor), logs each probe and reports whether all
// kept bounded latency (verify.Probe.Bounded).
func boundedAtOnce(ctx context.Context, t *testing.T, names []string, ips []netip.Addr, rate int) bool {
	t.Helper()
	var wg sync.WaitGroup
	probes := make([]verify.Probe, len(ips))
	errs := make([]error, len(ips))
	for i, ip := range ips {
		wg.Go(func() { probes[i], errs[i] = probeAt(ctx, ip, rate, probeFor) })
	}
	wg.Wait()
	all := true
	for i, p := range probes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Logf("%s, %d guests at once: %s", names[i], len(ips), p)
		all = all && p.Bounded()
	}
	return all
}
