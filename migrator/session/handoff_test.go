package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

func hasCall(calls []string, suffix string) bool {
	return slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, suffix) })
}

// count returns how many calls end with suffix.
func count(calls []string, suffix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasSuffix(c, suffix) {
			n++
		}
	}
	return n
}

// exactlyOnce fails the test unless each call appears once in calls.
func exactlyOnce(t *testing.T, calls []string, names ...string) {
	t.Helper()
	for _, n := range names {
		if c := count(calls, n); c != 1 {
			t.Errorf("%s called %d times, want once: %q", n, c, calls)
		}
	}
}

func TestHandoffOrderOnSuccess(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	p.agent.trace = p.hB.trace()
	p.hA.stats = api.HandoffStats{Mirrored: 9, Buffered: 7, Flushed: 8, Dropped: map[string]uint64{"ring_full": 1}}
	p.hB.stats = api.HandoffStats{Held: 3, Released: 3, Flushed: 8, GARPs: 5}
	m := mustMove(t, p.sourceConfig(src))
	dst := p.agent.guest()
	calls := p.callList()
	// Source: Begin before migrate; Switchover at pre-switchover, before
	// migrate-continue; Resumed after the destination runs the guest.
	inOrder(t, calls, "src.Begin", "src.qemu.migrate", "src.Switchover", "src.qemu.migrate-continue",
		"src.Resumed(true)", "src.qemu.(stop)")
	// Destination: Prepare first, Started after cont and before the
	// source hears Running (so before Resumed), then Flushed.
	inOrder(t, calls, "dst.Prepare", "src.Begin")
	inOrder(t, calls, "dst.qemu.cont", "dst.Started", "src.Resumed(true)", `dst.Flushed("packets")`)
	exactlyOnce(t, calls, "src.Resumed(true)", `dst.Flushed("packets")`)
	if !slices.Contains(dst.commands(), qmpcmd.Cont) {
		t.Errorf("destination not started: %q", dst.commands())
	}
	if hasCall(calls, "Rollback") {
		t.Errorf("rollback on success: %q", calls)
	}
	if got := p.hA.peer; got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Begin's peer %v, want the destination's QUIC address 127.0.0.1", got)
	}
	// Both ends' accounts land in the source's report.
	if m.Handoff == nil {
		t.Fatal("no hand-off report in the source record")
	}
	if m.Handoff.Source.Buffered != 7 || m.Handoff.Source.DroppedTotal() != 1 ||
		m.Handoff.Destination.Held != 3 || m.Handoff.Destination.GARPs != 5 {
		t.Errorf("source record hand-off %+v", *m.Handoff)
	}
	waitFor(t, "destination record completed", func() bool {
		return p.agent.record("hostA-1").State == api.MigrationCompleted
	})
	if d := p.agent.record("hostA-1"); d.Handoff == nil || d.Handoff.Destination.Released != 3 {
		t.Errorf("destination record hand-off %+v", d.Handoff)
	}
}

func TestHandoffOrderOnFailureBeforeSwitchover(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.hold = true
	defer close(src.release)
	src.trace = p.hA.trace()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		waitFor(t, "source active", func() bool { return src.getStatus() == "active" })
		cancel(ErrCancelled)
	}()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationCancelled {
		t.Fatalf("outcome %v state %s reason %q, want stayed and cancelled", out, m.State, m.Reason)
	}
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	calls := p.callList()
	inOrder(t, calls, "dst.Prepare", "src.Begin", "src.qemu.migrate_cancel", "src.Rollback")
	index(t, calls, "dst.Rollback")
	for _, c := range []string{"Switchover", "Started", "Resumed", "Flushed"} {
		if hasCall(calls, c) || hasCall(calls, c+"(true)") || hasCall(calls, c+"(false)") {
			t.Errorf("%s called on a failure before switchover: %q", c, calls)
		}
	}
	if m.Handoff == nil {
		t.Error("no hand-off account in the record of a migration that began it")
	}
}

// The destination dies while the source buffers (the switchover delay):
// the source guest is resumed first, then the hand-off rolls back (the
// buffered frames go back into a tap whose guest runs).
func TestHandoffRollbackAfterBuffer(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	src.noResume = true
	cfg := p.sourceConfig(src)
	cfg.Debug.SwitchoverDelay = 30 * time.Second
	var runAtRollback string
	p.hA.onRollback = func() { runAtRollback = src.runState() }
	go func() {
		waitFor(t, "switchover", func() bool { return slices.Contains(p.callList(), "src.Switchover") })
		p.conn(t).CloseWithError(1, "test: destination killed")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, cfg)
	if out != Stayed || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "lost") {
		t.Fatalf("outcome %v state %s reason %q, want stayed, failed, connection lost", out, m.State, m.Reason)
	}
	calls := p.callList()
	inOrder(t, calls, "src.Begin", "src.Switchover", "src.qemu.migrate_cancel", "src.qemu.cont", "src.Rollback")
	if slices.Contains(calls, "src.qemu.migrate-continue") {
		t.Errorf("migrate-continue during the switchover delay: %q", calls)
	}
	if runAtRollback != "running" {
		t.Errorf("source guest %q when the hand-off rolled back, want running", runAtRollback)
	}
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	index(t, p.callList(), "dst.Rollback")
}

func TestHandoffBeginFails(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	p.hA.beginErr = errors.New("no room in the vms map")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "no room") {
		t.Fatalf("outcome %v state %s reason %q, want stayed and failed naming Begin's error", out, m.State, m.Reason)
	}
	calls := p.callList()
	if slices.Contains(calls, "src.qemu.migrate") || slices.Contains(calls, "src.qemu.migrate_cancel") {
		t.Errorf("source migrated after Begin failed: %q", calls)
	}
	inOrder(t, calls, "src.Begin", "src.Rollback")
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	index(t, p.callList(), "dst.Rollback")
}

// postcopy makes p's migration end in post-copy: both fake QEMUs stay
// postcopy-active until the source's Resumed and the destination's Flushed
// have been seen (or 20s passed), then complete (or fail, if fail). The
// channel says whether both calls were seen while post-copy was active.
func postcopy(p *pair, src *fakeQEMU, fail bool) <-chan bool {
	pc := make(chan struct{})
	src.postcopy, src.postcopyFail = pc, fail
	p.agent.mu.Lock()
	p.agent.postcopy, p.agent.postcopyFail = pc, fail
	p.agent.mu.Unlock()
	seen := make(chan bool, 1)
	go func() {
		ok := false
		for deadline := time.Now().Add(20 * time.Second); !ok && time.Now().Before(deadline); {
			calls := p.callList()
			ok = hasCall(calls, "src.Resumed(true)") && hasCall(calls, `dst.Flushed("packets")`)
			if !ok {
				time.Sleep(10 * time.Millisecond)
			}
		}
		close(pc)
		seen <- ok
	}()
	return seen
}

// destEnded waits for the destination's record to reach state (so that a
// failing test does not tear the destination down mid-session) and
// returns it.
func destEnded(t *testing.T, p *pair, state string) api.Migration {
	t.Helper()
	waitFor(t, "destination record "+state, func() bool { return p.agent.record("hostA-1").State == state })
	return p.agent.record("hostA-1")
}

// In post-copy the guest runs at the destination while pages still move:
// the hand-off (Resumed at the source, Flushed at the destination) happens
// then, not when post-copy completes; both records still end only after.
func TestHandoffDuringPostcopy(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	p.agent.trace = p.hB.trace()
	p.hA.stats = api.HandoffStats{Buffered: 7, Flushed: 7}
	p.hB.stats = api.HandoffStats{Held: 3, Released: 3, Flushed: 7}
	seen := postcopy(p, src, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	ok := <-seen
	d := destEnded(t, p, api.MigrationCompleted)
	calls := p.callList()
	if !ok {
		t.Fatalf("Resumed and Flushed not both called while post-copy was active: %q", calls)
	}
	if out != Moved || m.State != api.MigrationCompleted || !m.Postcopy {
		t.Fatalf("outcome %v state %s postcopy %v reason %q, want moved, completed, post-copy", out, m.State, m.Postcopy, m.Reason)
	}
	inOrder(t, calls, "src.Switchover", "src.qemu.migrate-continue", "dst.qemu.cont", "dst.Started",
		"src.Resumed(true)", `dst.Flushed("packets")`, "src.qemu.(postcopy-completed)", "src.qemu.(stop)")
	inOrder(t, calls, `dst.Flushed("packets")`, "dst.qemu.(postcopy-completed)")
	exactlyOnce(t, calls, "src.Resumed(true)", `dst.Flushed("packets")`)
	if hasCall(calls, "Rollback") {
		t.Errorf("rollback on success: %q", calls)
	}
	// The destination's report comes after its post-copy completed, and
	// the source waited for it.
	if m.Handoff == nil || m.Handoff.Source.Buffered != 7 || m.Handoff.Destination.Released != 3 {
		t.Errorf("source record hand-off %+v", m.Handoff)
	}
	if !d.Postcopy || d.Handoff == nil || d.Handoff.Destination.Released != 3 {
		t.Errorf("destination record postcopy %v hand-off %+v", d.Postcopy, d.Handoff)
	}
	var phases []string
	for _, ph := range d.Phases {
		phases = append(phases, ph.Name)
	}
	inOrder(t, phases, "switchover", "postcopy", "cleanup")
}

// Post-copy fails after the guest ran at the destination: nothing rolls
// back (the source guest stays paused, the hand-off has happened), and
// both ends record the failure with their hand-off accounts.
func TestHandoffPostcopyFailsAfterRunning(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	p.agent.trace = p.hB.trace()
	p.hA.stats = api.HandoffStats{Buffered: 7, Flushed: 7}
	p.hB.stats = api.HandoffStats{Held: 3, Released: 3, Flushed: 7}
	seen := postcopy(p, src, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	ok := <-seen
	d := destEnded(t, p, api.MigrationFailed)
	if !ok {
		t.Fatalf("Resumed and Flushed not both called while post-copy was active: %q", p.callList())
	}
	if out != Lost || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "post-copy failed") {
		t.Fatalf("outcome %v state %s reason %q, want lost, failed, post-copy failed", out, m.State, m.Reason)
	}
	if m.Handoff == nil || m.Handoff.Source.Buffered != 7 {
		t.Errorf("source record hand-off %+v", m.Handoff)
	}
	if !strings.Contains(d.Reason, "post-copy failed") || d.Handoff == nil || d.Handoff.Destination.Released != 3 {
		t.Errorf("destination record reason %q hand-off %+v", d.Reason, d.Handoff)
	}
	calls := p.callList()
	inOrder(t, calls, "dst.qemu.cont", "src.Resumed(true)", `dst.Flushed("packets")`, "src.qemu.(postcopy-failed)")
	exactlyOnce(t, calls, "src.Resumed(true)", `dst.Flushed("packets")`)
	for _, c := range []string{"src.Rollback", "dst.Rollback", "src.qemu.cont", "src.qemu.(stop)"} {
		if slices.Contains(calls, c) {
			t.Errorf("%s after post-copy failed with the guest running at the destination: %q", c, calls)
		}
	}
}

// quiescing is a recHandoff that can quiet the tap, so the session decides
// the switchover itself.
type quiescing struct{ *recHandoff }

func (h quiescing) Quiesce(context.Context, api.VMSpec) error { h.add("Quiesce"); return nil }

// switchingSource is a source whose QEMU stays active until released,
// with a quiescing hand-off, QuietGuest traced and a 120 ms target: at
// its second pass (syncs 2) 1 MiB left at 100 Mbit/s fits the target less
// the default fixed pause, and the agent decides the switchover.
func switchingSource(t *testing.T, p *pair) (*fakeQEMU, SourceConfig) {
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	src.hold = true
	cfg := p.sourceConfig(src)
	cfg.Handoff = quiescing{p.hA}
	cfg.QuietGuest = func(_ context.Context, final bool) { p.hA.add(fmt.Sprintf("QuietGuest(%v)", final)) }
	cfg.Request.DowntimeTarget = api.Duration(120 * time.Millisecond)
	return src, cfg
}

// TestAgentSwitchover: with a hand-off that can quiesce, QEMU's
// downtime-limit is 1 ms and, at the pass where the rest fits the target,
// the agent holds QEMU's channels, quiesces the tap, stops the guest and
// lifts the bandwidth cap before QEMU reaches pre-switchover; the record
// has the decision and how long the guest was paused.
func TestAgentSwitchover(t *testing.T) {
	p := newPair(t)
	src, cfg := switchingSource(t, p)
	go func() {
		waitFor(t, "source active", func() bool { return src.getStatus() == "active" })
		src.mu.Lock()
		src.syncs = 2 // the pass boundary where the agent decides
		src.mu.Unlock()
		waitFor(t, "the agent's stop", func() bool { return src.runState() == "paused" })
		close(src.release)
	}()
	m := mustMove(t, cfg)
	calls := p.callList()
	// Quiet before the first pass if it may, and before the stop.
	inOrder(t, calls, "src.Begin", "src.QuietGuest(false)", "src.qemu.migrate", "src.QuietGuest(true)", "src.Quiesce", "src.qemu.stop",
		"src.Switchover", "src.qemu.migrate-continue", "src.Resumed(true)")
	exactlyOnce(t, calls, "src.QuietGuest(false)", "src.QuietGuest(true)", "src.Quiesce", "src.qemu.stop")
	src.mu.Lock()
	params := strings.Join(src.params, " ")
	src.mu.Unlock()
	if !strings.Contains(params, `"downtime-limit":1`) || !strings.Contains(params, `"max-bandwidth":1099511627776`) {
		t.Errorf("parameters %s: want downtime-limit 1 and QEMU's own cap out of the way (the agent paces)", params)
	}
	if s := m.Progress.Bandwidth; s != 0 {
		t.Errorf("pace %d after the stop, want none", s)
	}
	if !slices.ContainsFunc(m.Decisions, func(d api.Decision) bool { return d.Action == "switchover" }) {
		t.Errorf("no switchover decision: %+v", m.Decisions)
	}
	if m.Paused <= 0 {
		t.Errorf("paused %v, want the time from the agent's stop to running", m.Paused)
	}
}

// TestAgentSwitchoverQEMUFirst: when QEMU stops the guest before the agent
// decided (no pass boundary reached here), the switchover still runs as
// before and the record says the tap was not quiesced.
func TestAgentSwitchoverQEMUFirst(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	cfg := p.sourceConfig(src)
	cfg.Handoff = quiescing{p.hA}
	m := mustMove(t, cfg)
	calls := p.callList()
	if hasCall(calls, "Quiesce") || hasCall(calls, "qemu.stop") {
		t.Errorf("the agent stopped the guest without a decision: %q", calls)
	}
	inOrder(t, calls, "src.qemu.migrate", "src.Switchover", "src.qemu.migrate-continue")
	if !slices.ContainsFunc(m.Decisions, func(d api.Decision) bool {
		return d.Action == "note" && strings.Contains(d.Reason, "not quiesced")
	}) {
		t.Errorf("no note that QEMU stopped the guest itself: %+v", m.Decisions)
	}
}

// TestAgentSwitchoverQEMUStoppedMeanwhile: QEMU stopped the guest itself
// between the agent's decision and its hold (it met its own threshold
// first): the agent neither quiesces (a stopped guest drains no tap, the
// quiesce would wait out its timeout with the traffic held) nor stops,
// the switchover runs as for any stop of QEMU's, and the record says the
// tap was not quiesced.
func TestAgentSwitchoverQEMUStoppedMeanwhile(t *testing.T) {
	p := newPair(t)
	src, cfg := switchingSource(t, p)
	go func() {
		waitFor(t, "source active", func() bool { return src.getStatus() == "active" })
		src.mu.Lock()
		src.syncs = 2              // the agent's pass boundary: it decides
		src.run = "finish-migrate" // and QEMU's own completion stopped the guest
		src.mu.Unlock()
		waitFor(t, "the agent's decision", func() bool { return hasCall(p.callList(), "src.QuietGuest(true)") })
		close(src.release)
	}()
	m := mustMove(t, cfg)
	calls := p.callList()
	if hasCall(calls, "Quiesce") || hasCall(calls, "qemu.stop") {
		t.Errorf("the agent quiesced or stopped a guest QEMU had stopped: %q", calls)
	}
	inOrder(t, calls, "src.qemu.migrate", "src.QuietGuest(true)", "src.Switchover", "src.qemu.migrate-continue")
	if !slices.ContainsFunc(m.Decisions, func(d api.Decision) bool { return d.Action == "switchover" }) ||
		!slices.ContainsFunc(m.Decisions, func(d api.Decision) bool { return d.Action == "note" && strings.Contains(d.Reason, "not quiesced") }) {
		t.Errorf("decisions %+v: want the agent's switchover and the note that the tap was not quiesced", m.Decisions)
	}
}

// The source counts the flushed frames the destination's account does not
// confirm: a QUIC write succeeds once buffered, so a destination agent
// that dies while taking the flush loses frames the source wrote.
func TestHandoffUnconfirmedFlush(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	p.hA.stats = api.HandoffStats{Buffered: 8, Flushed: 8}
	p.hB.stats = api.HandoffStats{Flushed: 4, Dropped: map[string]uint64{api.DropInject: 1}}
	m := mustMove(t, p.sourceConfig(src))
	if m.Handoff == nil {
		t.Fatal("no hand-off report in the source record")
	}
	if got := m.Handoff.Source.Dropped[api.DropFlushUnconfirmed]; got != 3 {
		t.Errorf("source dropped %v: want %s 3 (8 flushed, 4 injected, 1 refused)", m.Handoff.Source.Dropped, api.DropFlushUnconfirmed)
	}
	if p.hA.stats.Dropped != nil {
		t.Errorf("the dataplane's own account changed: %v", p.hA.stats.Dropped)
	}
}

func TestUnconfirmedFlush(t *testing.T) {
	for _, c := range []struct {
		src, dst api.HandoffStats
		want     uint64
	}{
		{api.HandoffStats{}, api.HandoffStats{}, 0},
		{api.HandoffStats{Flushed: 10}, api.HandoffStats{Flushed: 10}, 0},
		{api.HandoffStats{Flushed: 10}, api.HandoffStats{}, 10}, // no report: none confirmed
		{api.HandoffStats{Flushed: 10}, api.HandoffStats{Flushed: 7, Dropped: map[string]uint64{api.DropInject: 2}}, 1},
		{api.HandoffStats{Flushed: 3}, api.HandoffStats{Flushed: 5}, 0}, // never below zero
	} {
		if got := unconfirmedFlush(c.src, c.dst); got != c.want {
			t.Errorf("unconfirmedFlush(%d, %d+%v) = %d, want %d", c.src.Flushed, c.dst.Flushed, c.dst.Dropped, got, c.want)
		}
	}
}
