package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// index returns the position of want in list, failing the test if absent.
func index(t *testing.T, list []string, want string) int {
	t.Helper()
	i := slices.Index(list, want)
	if i < 0 {
		t.Fatalf("%q missing from %q", want, list)
	}
	return i
}

func inOrder(t *testing.T, list []string, want ...string) {
	t.Helper()
	last := -1
	for _, w := range want {
		i := index(t, list, w)
		if i <= last {
			t.Fatalf("%q out of order in %q (want order %q)", w, list, want)
		}
		last = i
	}
}

// TestHappyPath moves a guest with QEMU's channel on each pipe.
func TestHappyPath(t *testing.T) {
	for _, pipe := range []string{api.PipeTCP, api.PipeQUIC} {
		t.Run(pipe, func(t *testing.T) { happyPath(t, pipe) })
	}
}

func happyPath(t *testing.T, pipe string) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	cfg := p.sourceConfig(src)
	cfg.Request.Pipe = pipe
	m := mustMove(t, cfg)
	dst := p.agent.guest()
	waitFor(t, "destination record completed", func() bool {
		return p.agent.record("hostA-1").State == api.MigrationCompleted
	})
	inOrder(t, src.commands(), qmpcmd.MigrateSetCapabilities, qmpcmd.MigrateSetParameters, qmpcmd.Migrate, qmpcmd.MigrateContinue, "(stop)")
	if slices.Contains(src.commands(), qmpcmd.Cont) || slices.Contains(src.commands(), qmpcmd.MigrateCancel) {
		t.Errorf("source commands %q: no cont or cancel expected", src.commands())
	}
	inOrder(t, dst.commands(), qmpcmd.MigrateSetCapabilities, qmpcmd.MigrateIncoming, qmpcmd.Cont)
	if slices.Contains(dst.commands(), "(stop)") {
		t.Errorf("destination guest stopped: %q", dst.commands())
	}
	dst.mu.Lock()
	got, reply := dst.received, src.reply
	dst.mu.Unlock()
	if !bytes.Equal(got, payload) || string(reply) != "SHUT" {
		t.Errorf("stream: destination got %d bytes (want %d), source got back %q", len(got), len(payload), reply)
	}
	calls := p.callList()
	inOrder(t, calls, "dst.Prepare", "src.Switchover", "src.Resumed(true)")
	index(t, calls, `dst.Flushed("packets")`)
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasSuffix(c, "Rollback") }) {
		t.Errorf("rollback on success: %q", calls)
	}
	if len(p.agent.adopted) != 1 || len(p.agent.release) != 0 {
		t.Errorf("agent: adopted %v released %v", p.agent.adopted, p.agent.release)
	}
	var names []string
	for _, ph := range m.Phases {
		names = append(names, ph.Name)
		if ph.End.Before(ph.Start) {
			t.Errorf("phase %s ends before it starts", ph.Name)
		}
	}
	if !slices.Equal(names, []string{"setup", "precopy", "switchover", "cleanup"}) {
		t.Errorf("phases %q", names)
	}
	if m.QEMUDowntime != api.Duration(42*time.Millisecond) || m.WireBytes == 0 || m.Role != "source" {
		t.Errorf("record: downtime %v wire %d role %s", m.QEMUDowntime, m.WireBytes, m.Role)
	}
	if c := m.Codec; c == nil || c.QEMUBytes != int64(len(payload)) || c.LinkBytes == 0 {
		t.Errorf("record: coder's account %+v for %d bytes of QEMU's", c, len(payload))
	}
	if d := p.agent.record("hostA-1"); d.Role != "destination" || d.From != "hostA" || d.To != "hostB" {
		t.Errorf("destination record %+v", d)
	}
}

func TestCancelBeforeCommit(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.hold = true
	defer close(src.release)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		waitFor(t, "source active", func() bool { return src.getStatus() == "active" })
		cancel(ErrCancelled)
	}()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationCancelled || !strings.Contains(m.Reason, "cancelled") {
		t.Fatalf("outcome %v state %s reason %q, want stayed and cancelled", out, m.State, m.Reason)
	}
	index(t, src.commands(), qmpcmd.MigrateCancel)
	if slices.Contains(src.commands(), "(stop)") {
		t.Errorf("source guest stopped: %q", src.commands())
	}
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	if r := p.agent.record("hostA-1").Reason; !strings.Contains(r, "cancelled by request") {
		t.Errorf("destination reason %q: want the source's (cancelled by request)", r)
	}
	dst := p.agent.guest()
	index(t, dst.commands(), "(stop)")
	if slices.Contains(dst.commands(), qmpcmd.Cont) {
		t.Errorf("destination cont after cancel: %q", dst.commands())
	}
	calls := p.callList()
	index(t, calls, "src.Rollback")
	index(t, calls, "dst.Rollback")
	if len(p.agent.release) != 1 || len(p.agent.adopted) != 0 {
		t.Errorf("agent: adopted %v released %v", p.agent.adopted, p.agent.release)
	}
}

func TestDestinationRefuses(t *testing.T) {
	p := newPair(t)
	p.agent.vms["fw1"] = true // a VM of that name exists at the destination
	src := newFakeQEMU(t, "source")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "refused") ||
		!strings.Contains(m.Reason, "exists") {
		t.Fatalf("outcome %v state %s reason %q, want stayed, failed, refused: exists", out, m.State, m.Reason)
	}
	if slices.Contains(src.commands(), qmpcmd.Migrate) {
		t.Errorf("source migrated after a refusal: %q", src.commands())
	}
	if p.agent.guest() != nil {
		t.Error("destination launched a guest for a refused hello")
	}
}

func TestConnectionLostBeforeCommit(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.hold = true
	defer close(src.release)
	go func() {
		waitFor(t, "source active", func() bool { return src.getStatus() == "active" })
		p.conn(t).CloseWithError(1, "test: connection lost")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "lost") {
		t.Fatalf("outcome %v state %s reason %q, want stayed, failed, lost", out, m.State, m.Reason)
	}
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	index(t, p.agent.guest().commands(), "(stop)")
}

func TestConnectionLostAfterCommit(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	// The connection dies as the destination starts the guest: the
	// source learns the outcome with a status request.
	p.agent.onCont = func() error {
		p.conn(t).CloseWithError(1, "test: connection lost")
		return nil
	}
	mustMove(t, p.sourceConfig(src))
	if slices.Contains(src.commands(), qmpcmd.Cont) {
		t.Errorf("source resumed: %q", src.commands())
	}
	index(t, src.commands(), "(stop)")
}

func TestDestinationAbortsAfterCommit(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	p.agent.onCont = func() error { return errTest }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Stayed || m.State != api.MigrationFailed {
		t.Fatalf("outcome %v state %s reason %q, want stayed and failed", out, m.State, m.Reason)
	}
	// Resumed only after the destination positively aborted.
	index(t, src.commands(), qmpcmd.Cont)
	if slices.Contains(src.commands(), "(stop)") {
		t.Errorf("source guest stopped: %q", src.commands())
	}
	index(t, p.agent.guest().commands(), "(stop)")
}

func TestOutcomeUnknownKeepsGuestPaused(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	block := make(chan struct{})
	defer close(block)
	// The destination never answers: cont hangs, then the connection dies
	// and the node is gone.
	p.agent.onCont = func() error {
		p.b.Close()
		<-block
		return nil
	}
	cfg := p.sourceConfig(src)
	cfg.OutcomeTimeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, out := RunSource(ctx, cfg)
	if out != Unknown || m.State != api.MigrationUnknown || !m.Ended.IsZero() || !strings.Contains(m.Reason, "outcome unknown") {
		t.Fatalf("outcome %v state %s reason %q, want unknown", out, m.State, m.Reason)
	}
	if slices.Contains(src.commands(), qmpcmd.Cont) || slices.Contains(src.commands(), "(stop)") {
		t.Errorf("source resumed or stopped: %q", src.commands())
	}
	_ = errors.New
}

// QEMU reports cpu-throttle-percentage only while it throttles: the record
// keeps the highest value seen during the migration.
func TestThrottleKeptInRecord(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.hold, src.throttle = true, 40
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		// Let a few samples see the throttle (counted, not timed: a busy
		// machine polls late), then stop throttling.
		waitFor(t, "samples of the throttle", func() bool {
			src.mu.Lock()
			defer src.mu.Unlock()
			return src.throttled >= 3
		})
		src.mu.Lock()
		src.throttle = 0
		src.mu.Unlock()
		close(src.release)
	}()
	m, out := RunSource(ctx, p.sourceConfig(src))
	if out != Moved || m.State != api.MigrationCompleted {
		t.Fatalf("outcome %v state %s reason %q, want moved and completed", out, m.State, m.Reason)
	}
	if m.Throttled != 40 {
		t.Errorf("record throttled %d%%, want the 40%% seen while active", m.Throttled)
	}
}

// QEMU 7.2 says completed a moment before it computes its times: the
// record still gets them.
func TestSummaryReadOnceTimesAreSet(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	src.timesLate = 3
	m := mustMove(t, p.sourceConfig(src))
	if m.TotalTime != api.Duration(1234*time.Millisecond) || m.QEMUDowntime != api.Duration(42*time.Millisecond) {
		t.Errorf("record: total %v downtime %v, want 1.234s and 42ms", m.TotalTime, m.QEMUDowntime)
	}
}

// A CA-valid host that names another host as the source in its Hello is
// refused: the destination goes by the certificate, not by the message.
func TestHelloNamingAnotherHostRefused(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := p.sourceConfig(src)
	cfg.Host, cfg.ID = "hostC", "hostC-1" // the certificate says hostA
	m, out := RunSource(ctx, cfg)
	if out != Stayed || m.State != api.MigrationFailed || !strings.Contains(m.Reason, `certificate names "hostA"`) {
		t.Fatalf("outcome %v state %s reason %q, want stayed, failed, certificate names hostA", out, m.State, m.Reason)
	}
	if slices.Contains(src.commands(), qmpcmd.Migrate) {
		t.Errorf("source migrated after a refusal: %q", src.commands())
	}
	if p.agent.guest() != nil {
		t.Error("destination launched a guest for a hello naming another host")
	}
}

// Commit reaches a destination QEMU still loading: cont goes at once, and
// QEMU starts the guest itself when its load is done (one cont); or, when
// QEMU keeps the guest paused after all (a precopy whose source the agent
// stopped), a second cont starts it.
func TestDestinationStartsEarly(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("kept_paused=%v", keep), func(t *testing.T) {
			p := newPair(t)
			src := newFakeQEMU(t, "source")
			loaded := make(chan struct{})
			var once sync.Once
			var first string // the run state the first cont met
			p.agent.loaded, p.agent.keepPaused = loaded, keep
			p.agent.onCont = func() error {
				once.Do(func() {
					first = p.agent.guest().runState()
					close(loaded)
				})
				return nil
			}
			mustMove(t, p.sourceConfig(src))
			waitFor(t, "destination record completed", func() bool {
				return p.agent.record("hostA-1").State == api.MigrationCompleted
			})
			dst := p.agent.guest()
			conts := 0
			for _, c := range dst.commands() {
				if c == qmpcmd.Cont {
					conts++
				}
			}
			want := 1
			if keep {
				want = 2
			}
			if first != qmpcmd.RunStateInmigrate || conts != want || dst.runState() != qmpcmd.RunStateRunning {
				t.Fatalf("destination commands %q, first cont in %s, run state %s: want the first in inmigrate, %d cont and running",
					dst.commands(), first, dst.runState(), want)
			}
		})
	}
}
