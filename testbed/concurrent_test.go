package testbed

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// concurrentGuests is how many guests TestIntegrationConcurrentMigrations
// moves at once; concurrentRates the TWAMP-light rates per guest it tries,
// highest first.
const concurrentGuests = 4

var concurrentRates = []int{1000, 500, 250, 100}

// concurrentBandwidth caps each of the four streams, as an operator moving
// several guests off a small host would: uncapped, four streams and eight
// QEMUs took the two cores from the guests' QEMUs for over a second (a
// full tap queue, 406 test packets dropped before the guest saw them).
const concurrentBandwidth = 24 << 20

// TestIntegrationConcurrentMigrations moves four guests from hostA to
// hostB at the same time, each under TWAMP-light: every migration
// completes, every guest runs once, on hostB, the same boot with its
// memory intact, and no test packet of any guest is lost, duplicated or
// reordered; neither end's hand-off drops a frame.
//
// The load is one the guests sustain: the rate is the highest of
// concurrentRates that all four answer at once with bounded latency (the
// medians of every second at most verify.ProbeMaxMedian, see verify.Probe.Bounded): 1000 pps here
// since the guests answer in their kernel (with the Go socket reflector,
// medians of 250-900 ms at 1000 pps); the test fails, naming the machine
// as too slow, if they do not sustain the lowest.
func TestIntegrationConcurrentMigrations(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	a := api.NewClient(env.Socket("hostA"))
	b := api.NewClient(env.Socket("hostB"))

	type guest struct {
		name   string
		ip     netip.Addr
		before api.GuestStatus
		s      *verify.Sender
		m      api.Migration
	}
	gs := make([]*guest, concurrentGuests)
	for i := range gs {
		g := &guest{name: fmt.Sprintf("fw%d", i+1), ip: netip.MustParseAddr(fmt.Sprintf("198.18.0.%d", 100+i))}
		gs[i] = g
		// Small, quiet guests: eight TCG QEMUs share the machine's two
		// cores during the moves, and a guest that falls behind its
		// traffic (seen: 0.4 s of frames queued in its tap at the stop,
		// with the verifier at 8 MiB/s) defeats the quiesce before the
		// stop. The 8 MiB working set is still verified every 4 s.
		args := []string{"--host", "hostA", "vm", "start", g.name, "--ip", g.ip.String() + "/24", "--gw", gateway,
			"--mem", "128", "--", "--wss", "8", "--dirty-rate", "1", "--verify-rate", "2"}
		if _, _, err := env.Netctl(ctx, args...); err != nil {
			t.Fatalf("vm start %s: %v", g.name, err)
		}
	}
	for _, g := range gs {
		g.before = guestStatus(ctx, t, a, g.name)
	}

	// The guests must sustain the load before it means anything.
	names := make([]string, len(gs))
	ips := make([]netip.Addr, len(gs))
	for i, g := range gs {
		names[i], ips[i] = g.name, g.ip
	}
	rate := 0
	for _, r := range concurrentRates {
		if boundedAtOnce(ctx, t, names, ips, r) {
			rate = r
			break
		}
	}
	if rate == 0 {
		t.Fatalf("%d guests do not sustain %d pps each at once: this machine is too slow for the test", len(gs), concurrentRates[len(concurrentRates)-1])
	}
	t.Logf("moving %d guests at once, each under %d pps", len(gs), rate)

	for _, g := range gs {
		s, err := verify.Start(ctx, verify.Config{Target: netip.AddrPortFrom(g.ip, twamp.Port), Rate: rate, Netns: "nfh-client"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop() })
		g.s = s
	}
	time.Sleep(time.Second)
	for _, g := range gs {
		m, err := a.Migrate(ctx, api.MigrateRequest{VM: g.name, To: "hostB", Bandwidth: concurrentBandwidth, InitialBandwidth: concurrentBandwidth})
		if err != nil {
			t.Fatalf("migrate %s: %v", g.name, err)
		}
		g.m = m
	}
	for _, g := range gs {
		g.m = waitMigration(ctx, t, a, g.m.ID)
	}
	time.Sleep(3 * time.Second) // traffic after the moves
	for _, g := range gs {
		samples := g.s.Stop()
		rep := verify.Analyze(samples, nil, verify.Limits{})
		m := g.m
		var src, dst api.HandoffStats
		if m.Handoff != nil {
			src = m.Handoff.Source
		}
		if dm, err := b.GetMigration(ctx, m.ID); err == nil && dm.Handoff != nil {
			dst = dm.Handoff.Destination
		}
		t.Logf("%s %s: %s (%s), paused %v; TWAMP sent %d lost %d dup %d reordered %d, largest gap %v, p99 %v; source buffered %d flushed %d dropped %v; destination held %d released %d dropped %v",
			g.name, m.ID, m.State, m.Reason, time.Duration(m.Paused), rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered,
			time.Duration(rep.LargestGap), time.Duration(rep.LatencyP99), src.Buffered, src.Flushed, src.Dropped, dst.Held, dst.Released, dst.Dropped)
		switch {
		case m.State != api.MigrationCompleted:
			t.Errorf("%s: migration %s %s (%s), want completed", g.name, m.ID, m.State, m.Reason)
		case rep.Sent == 0 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Reordered != 0:
			t.Errorf("%s: TWAMP sent %d, lost %d, duplicated %d, reordered %d: want 0 lost, duplicated, reordered; %s; in the guest: %s; phases %s",
				g.name, rep.Sent, rep.Lost, rep.Duplicated, rep.Reordered, lostWhen(samples),
				guestDrops(g.before, guestStatus(ctx, t, b, g.name)), phaseTimes(m.Phases))
		case src.DroppedTotal()+dst.DroppedTotal() != 0:
			t.Errorf("%s: the hand-off dropped %v at the source, %v at the destination: want nothing", g.name, src.Dropped, dst.Dropped)
		}
	}
	for _, g := range gs {
		got := guestStatus(ctx, t, b, g.name)
		if pids := qemuOf(env, g.name); len(pids) != 1 {
			t.Errorf("%s: QEMUs %v across the hosts, want one", g.name, pids)
		}
		absentFrom(ctx, t, env, "hostA", g.name)
		sameGuest(t, g.before, got)
	}
}

// guestStatus returns vm's status on c's host: running, its vnf answering
// with no integrity error.
func guestStatus(ctx context.Context, t *testing.T, c *api.Client, vm string) api.GuestStatus {
	t.Helper()
	for try := 0; ; try++ {
		st, err := c.VMStatus(ctx, vm)
		if err != nil {
			t.Fatalf("%s: %v", vm, err)
		}
		if st.Guest != nil && st.State == api.StateRunning && st.QEMUStatus == "running" {
			if n := st.Guest.IntegrityErrors(); n != 0 {
				t.Fatalf("%s: %d integrity errors (%d corrupt, %d stale pages)", vm, n, st.Guest.CorruptPages, st.Guest.StalePages)
			}
			return *st.Guest
		}
		if try == 60 {
			t.Fatalf("%s: state %q qemu %q guest error %q", vm, st.State, st.QEMUStatus, st.GuestError)
		}
		time.Sleep(time.Second)
	}
}

// lostWhen says when the first lost test packets were sent, for a failure
// message: set against the record's phases it tells which part of a move
// lost them.
func lostWhen(samples []verify.Sample) string {
	var b strings.Builder
	n := 0
	for _, s := range samples {
		if s.Lost() && n < 5 {
			fmt.Fprintf(&b, "seq %d sent %s lost; ", s.Seq, s.Sent.Format("15:04:05.000"))
			n++
		}
	}
	return b.String()
}

// phaseTimes lists a record's phases with their starts.
func phaseTimes(ps []api.Phase) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s@%s ", p.Name, p.Start.Format("15:04:05.000"))
	}
	return b.String()
}
