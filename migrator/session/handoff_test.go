package session

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func hasCall(calls []string, suffix string) bool {
	return slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, suffix) })
}

func TestHandoffOrderOnSuccess(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.trace = p.hA.trace()
	p.hA.stats = api.HandoffStats{Mirrored: 9, Buffered: 7, Flushed: 8, Dropped: map[string]uint64{"ring_full": 1}}
	p.hB.stats = api.HandoffStats{Held: 3, Released: 3, Flushed: 8, GARPs: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Moved || m.State != api.MigrationCompleted {
		t.Fatalf("outcome %v state %s reason %q, want moved and completed", out, m.State, m.Reason)
	}
	dst := p.agent.guest()
	calls := p.callList()
	// Source: Begin before migrate; Switchover at pre-switchover, before
	// migrate-continue; Resumed after the destination runs the guest.
	inOrder(t, calls, "src.Begin", "src.qemu.migrate", "src.Switchover", "src.qemu.migrate-continue",
		"src.Resumed(true)", "src.qemu.(stop)")
	// Destination: Prepare first, Started after cont and before the
	// source hears Running (so before Resumed), then Flushed.
	inOrder(t, calls, "dst.Prepare", "src.Begin")
	inOrder(t, calls, "dst.Started", "src.Resumed(true)", `dst.Flushed("packets")`)
	if !slices.Contains(dst.commands(), "cont") {
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
	cfg.SwitchoverDelay = 30 * time.Second
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
