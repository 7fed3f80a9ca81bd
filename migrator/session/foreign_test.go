package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/engine"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// fakeEngine is one host's Engine. Its UNIX socket is the same path in
// both views. As a source, Migrate connects to the socket (the agent's
// relay listens there), sends payload, calls stopped before the stream's
// end and reads the destination's answer back. As a destination, Arrival
// listens on the socket in place of the arriving QEMU: it reads the
// stream to its end, answers with reply and then (unless noArrival) says
// the guest arrived.
type fakeEngine struct {
	t    *testing.T
	sock string
	uri  string

	// Source.
	payload    []byte
	failAfter  int             // > 0: Migrate sends this many bytes, hangs up and fails with migrateErr
	migrateErr error           // what Migrate returns (after the stream)
	hold       <-chan struct{} // Migrate returns only once this closes (nil: at once)
	lateStop   chan func()     // non-nil: Migrate leaves stopped here, for later, and fails with migrateErr at once
	opConn     net.Conn        // Follow's stream: the engine's end of an operator's migration

	// Destination.
	reply     []byte
	noArrival bool
	resumeErr error

	mu       sync.Mutex
	destURI  string        // Migrate's
	target   time.Duration // Migrate's: > 0, the agent's switchover
	back     []byte        // what Migrate read back
	received []byte        // what the destination's QEMU got
	resumes  []string
	watching bool // between Arrival and its stop
}

func newFakeEngine(t *testing.T, uri string) *fakeEngine {
	// Short: a UNIX socket's path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "fe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &fakeEngine{t: t, sock: filepath.Join(dir, "m.sock"), uri: uri}
}

func (e *fakeEngine) URI() string { return e.uri }

func (e *fakeEngine) Socket(id string) (string, string, error) { return e.sock, e.sock, nil }

func (e *fakeEngine) Migrate(ctx context.Context, m engine.Migration) error {
	e.mu.Lock()
	e.destURI, e.target = m.DestURI, m.Target
	e.mu.Unlock()
	stopped := e.stopper(ctx, m)
	if e.lateStop != nil {
		e.lateStop <- stopped
		return e.migrateErr
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", m.Socket)
	if err != nil {
		return fmt.Errorf("fake engine: %w", err)
	}
	return e.stream(ctx, c, stopped)
}

// stopper is how the fake stops the guest for m: the agent's switchover
// (the tap quiesced, then the guest stopped) when m asks for it.
func (e *fakeEngine) stopper(ctx context.Context, m engine.Migration) func() {
	if m.Quiesce == nil {
		return func() { m.Stopped(engine.Stop{}) }
	}
	return func() {
		if err := m.Quiesce(ctx); err != nil {
			e.t.Errorf("quiesce: %v", err)
		}
		m.Stopped(engine.Stop{ByAgent: true, Pass: 3, Remaining: 1 << 20, Rate: 100 << 20, Fits: true})
	}
}

// Follow is Migrate for an operator's migration: its stream is on
// e.opConn, the engine's end of the connection the session was given.
func (e *fakeEngine) Follow(ctx context.Context, m engine.Migration) error {
	if e.opConn == nil {
		return errors.New("fake engine: Follow without an operator's connection")
	}
	return e.stream(ctx, e.opConn, e.stopper(ctx, m))
}

// stream sends the payload on c, then reads the answer back.
func (e *fakeEngine) stream(ctx context.Context, c net.Conn, stopped func()) error {
	defer c.Close()
	if e.failAfter > 0 {
		if _, err := c.Write(e.payload[:e.failAfter]); err != nil {
			return fmt.Errorf("fake engine: %w", err)
		}
		c.Close()
		return e.migrateErr
	}
	if _, err := c.Write(e.payload); err != nil {
		return fmt.Errorf("fake engine: %w", err)
	}
	// The guest stops before the stream's last bytes leave.
	stopped()
	if err := c.(*net.UnixConn).CloseWrite(); err != nil {
		return fmt.Errorf("fake engine: %w", err)
	}
	back, err := io.ReadAll(c)
	e.mu.Lock()
	e.back = back
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("fake engine: reading back: %w", err)
	}
	if e.hold != nil {
		select {
		case <-e.hold:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return e.migrateErr
}

func (e *fakeEngine) Arrival(ctx context.Context, domain string) (<-chan struct{}, func(), error) {
	os.Remove(e.sock)
	ln, err := net.Listen("unix", e.sock)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	e.watching = true
	e.mu.Unlock()
	arrived := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		e.mu.Lock()
		e.received = got
		e.mu.Unlock()
		if err != nil {
			return
		}
		if _, err := c.Write(e.reply); err != nil {
			return
		}
		c.Close()
		if !e.noArrival {
			close(arrived)
		}
	}()
	stop := func() {
		ln.Close()
		<-done
		e.mu.Lock()
		e.watching = false
		e.mu.Unlock()
	}
	return arrived, stop, nil
}

func (e *fakeEngine) Resume(ctx context.Context, domain string) error {
	e.mu.Lock()
	e.resumes = append(e.resumes, domain)
	e.mu.Unlock()
	return e.resumeErr
}

// signalHandoff is a recHandoff that closes resumed at its first Resumed.
type signalHandoff struct {
	*recHandoff
	once    sync.Once
	resumed chan struct{}
}

func (h *signalHandoff) Resumed(ctx context.Context, spec api.VMSpec, s handoff.Stream) error {
	err := h.recHandoff.Resumed(ctx, spec, s)
	h.once.Do(func() { close(h.resumed) })
	return err
}

// foreignRig is a pair with a fake engine on each host.
type foreignRig struct {
	*pair
	src, dst *fakeEngine
	attached []string // WaitAttached's names
	attMu    sync.Mutex
	recs     []api.Migration // the source's reports, in order
	recMu    sync.Mutex
	accepted net.Conn // an operator's migration: the session's Accepted
}

const foreignID = "hostA-7"

// newForeignRig makes the rig; withEngine false leaves the destination
// without one (an agent run without --libvirt-uri).
func newForeignRig(t *testing.T, withEngine bool) *foreignRig {
	r := &foreignRig{}
	r.src = newFakeEngine(t, "qemu+tls://hostA/system")
	r.dst = newFakeEngine(t, "qemu+tls://hostB/system")
	r.src.payload = testBytes(256<<10, 7)
	r.dst.reply = testBytes(64<<10, 11)
	r.pair = newPair(t, func(c *DestConfig) {
		if withEngine {
			c.Engine = r.dst
		}
		c.WaitAttached = func(ctx context.Context, name string) error {
			r.attMu.Lock()
			r.attached = append(r.attached, name)
			r.attMu.Unlock()
			return nil
		}
	})
	return r
}

// testBytes is n bytes of a pattern seeded by seed.
func testBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// run runs the source to its end (10 s at most), then waits for the
// destination's session to end.
func (r *foreignRig) run(t *testing.T, h handoff.Handoff) (api.Migration, bool, []api.Migration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := api.MigrateRequest{VM: "fw1", To: "hostB"}
	req.Defaults()
	m, moved := RunForeignSource(ctx, ForeignSourceConfig{
		ID: foreignID, Host: "hostA", Request: req, Spec: testSpec(), Conn: FromTransport(r.conn(t)),
		Engine: r.src, Handoff: h, Logger: r.log.With("end", "src"), Started: time.Now().UTC(), Accepted: r.accepted,
		Record: func(m api.Migration, persist bool) {
			r.recMu.Lock()
			r.recs = append(r.recs, m)
			r.recMu.Unlock()
		},
	})
	r.srv.Wait()
	return m, moved, r.records()
}

// records is the source's reports so far.
func (r *foreignRig) records() []api.Migration {
	r.recMu.Lock()
	defer r.recMu.Unlock()
	return slices.Clone(r.recs)
}

// sideCalls is the hand-off calls of one end ("src" or "dst"), in order.
func (r *foreignRig) sideCalls(side string) []string {
	var out []string
	for _, c := range r.callList() {
		if strings.HasPrefix(c, side+".") {
			out = append(out, c)
		}
	}
	return out
}

func phaseNames(m api.Migration) []string {
	var names []string
	for _, ph := range m.Phases {
		names = append(names, ph.Name)
	}
	return names
}

// checkStream checks that the engine's stream crossed intact both ways.
func (r *foreignRig) checkStream(t *testing.T, wireBytes uint64) {
	t.Helper()
	r.src.mu.Lock()
	back, uri := r.src.back, r.src.destURI
	r.src.mu.Unlock()
	r.dst.mu.Lock()
	got := r.dst.received
	r.dst.mu.Unlock()
	if uri != r.dst.uri {
		t.Errorf("source engine migrated to %q, want the destination's Ready URI %q", uri, r.dst.uri)
	}
	if !bytes.Equal(got, r.src.payload) {
		t.Errorf("destination QEMU got %d bytes, want the source's %d intact", len(got), len(r.src.payload))
	}
	if !bytes.Equal(back, r.dst.reply) {
		t.Errorf("source engine read back %d bytes, want the destination's %d intact", len(back), len(r.dst.reply))
	}
	if want := uint64(len(r.src.payload) + len(r.dst.reply)); wireBytes != want {
		t.Errorf("record: wire bytes %d, want %d (both ways)", wireBytes, want)
	}
}

// checkSuccess checks what both successful cases share.
func (r *foreignRig) checkSuccess(t *testing.T, m api.Migration, moved bool) {
	t.Helper()
	if !moved || m.State != api.MigrationCompleted || m.Reason != "" {
		t.Fatalf("moved %v state %s reason %q, want moved and completed", moved, m.State, m.Reason)
	}
	r.checkStream(t, m.WireBytes)
	if got, want := r.sideCalls("src"), []string{"src.Begin", "src.Switchover", "src.Resumed(true)"}; !slices.Equal(got, want) {
		t.Errorf("source hand-off calls %q, want %q", got, want)
	}
	if got, want := r.sideCalls("dst"), []string{"dst.Prepare", "dst.Started", `dst.Flushed("packets")`}; !slices.Equal(got, want) {
		t.Errorf("destination hand-off calls %q, want %q", got, want)
	}
	if m.Role != "source" || m.VM != "fw1" || m.From != "hostA" || m.To != "hostB" || !m.Committed {
		t.Errorf("source record %+v", m)
	}
	if m.Handoff == nil || !reflect.DeepEqual(m.Handoff.Source, r.hA.stats) || !reflect.DeepEqual(m.Handoff.Destination, r.hB.stats) {
		t.Errorf("source record's hand-off %+v, want source %+v and destination %+v", m.Handoff, r.hA.stats, r.hB.stats)
	}
	d := r.agent.record(foreignID)
	if d.State != api.MigrationCompleted || d.Role != "destination" || d.From != "hostA" || d.To != "hostB" || d.VM != "fw1" {
		t.Errorf("destination record %+v", d)
	}
	if d.Handoff == nil || !reflect.DeepEqual(d.Handoff.Destination, r.hB.stats) {
		t.Errorf("destination record's hand-off %+v", d.Handoff)
	}
	if got, want := phaseNames(d), []string{"setup", "receiving", "starting", "running", "cleanup"}; !slices.Equal(got, want) {
		t.Errorf("destination phases %q, want %q", got, want)
	}
	r.dst.mu.Lock()
	resumes, watching := r.dst.resumes, r.dst.watching
	r.dst.mu.Unlock()
	if !slices.Equal(resumes, []string{"fw1"}) || watching {
		t.Errorf("destination engine: resumed %q (want fw1 once), arrival watch still on: %v", resumes, watching)
	}
	r.attMu.Lock()
	defer r.attMu.Unlock()
	if !slices.Equal(r.attached, []string{"fw1"}) {
		t.Errorf("WaitAttached called for %q, want fw1 once", r.attached)
	}
	if _, err := os.Stat(r.src.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("source migration socket left behind: %v", err)
	}
	if n := r.srv.Active(); n != 0 {
		t.Errorf("destination server: %d sessions active after the end", n)
	}
}

func (r *foreignRig) setStats() {
	r.hA.stats = api.HandoffStats{Mirrored: 5, Buffered: 3, Flushed: 3}
	r.hB.stats = api.HandoffStats{Held: 4, Released: 4, Flushed: 3}
}

// TestForeignArrivalFirst: the destination's engine says the guest
// arrived before the source's engine is done (libvirt's confirm step): the
// destination resumes it at once, without a Commit, and the source's
// engine ends after the flush.
func TestForeignArrivalFirst(t *testing.T) {
	r := newForeignRig(t, true)
	r.setStats()
	h := &signalHandoff{recHandoff: r.hA, resumed: make(chan struct{})}
	r.src.hold = h.resumed // Migrate returns only after the source's Resumed
	m, moved, recs := r.run(t, h)
	r.checkSuccess(t, m, moved)
	if got, want := phaseNames(m), []string{"setup", "precopy", "switchover", "cleanup"}; !slices.Equal(got, want) {
		t.Errorf("source phases %q, want %q (no commit: the destination ran first)", got, want)
	}
	if len(recs) == 0 || recs[len(recs)-1].State != api.MigrationCompleted {
		t.Errorf("source recorder's last record: %+v", recs)
	}
}

// TestForeignCommitDrives: no arrival event at the destination: the
// source's Commit, sent once its engine is done, makes the destination
// resume the guest. The stop callback and the engine's end both ask for
// the switchover; it happens once.
func TestForeignCommitDrives(t *testing.T) {
	r := newForeignRig(t, true)
	r.setStats()
	r.dst.noArrival = true
	m, moved, _ := r.run(t, r.hA)
	r.checkSuccess(t, m, moved)
	if got, want := phaseNames(m), []string{"setup", "precopy", "switchover", "committed", "cleanup"}; !slices.Equal(got, want) {
		t.Errorf("source phases %q, want %q", got, want)
	}
}

// TestForeignAgentSwitchover: with a hand-off that can quiesce, the
// engine is asked for the agent's switchover at the request's target, and
// the tap is quiesced before the guest stops (Switchover after Quiesce).
func TestForeignAgentSwitchover(t *testing.T) {
	r := newForeignRig(t, true)
	m, moved, _ := r.run(t, quiescing{r.hA})
	if !moved || m.State != api.MigrationCompleted {
		t.Fatalf("moved %v state %s reason %q, want moved and completed", moved, m.State, m.Reason)
	}
	r.checkStream(t, m.WireBytes)
	if got, want := r.sideCalls("src"), []string{"src.Begin", "src.Quiesce", "src.Switchover", "src.Resumed(true)"}; !slices.Equal(got, want) {
		t.Errorf("source hand-off calls %q, want %q", got, want)
	}
	r.src.mu.Lock()
	target := r.src.target
	r.src.mu.Unlock()
	if want := time.Duration(api.DefaultDowntimeTarget); target != want {
		t.Errorf("engine asked for target %v, want the request's %v", target, want)
	}
	if m.Paused <= 0 || len(m.Decisions) < 1 || m.Decisions[0].Action != "switchover" || m.Decisions[0].Pass != 3 {
		t.Errorf("paused %v, decisions %+v, want the agent's switchover at pass 3", m.Paused, m.Decisions)
	}
	// The fake stopped with 1 MiB left at 100 MiB/s: 10 ms of pages.
	f := &foreignSource{cfg: ForeignSourceConfig{Request: api.MigrateRequest{DowntimeTarget: api.DefaultDowntimeTarget}},
		log: r.log, rec: newRecord(api.Migration{}, nil)}
	f.stop.Store(&engine.Stop{ByAgent: true, Pass: 3, Remaining: 1 << 20, Rate: 100 << 20})
	f.notePause(time.Now(), 40*time.Millisecond)
	f.notePause(time.Now(), 70*time.Millisecond)
	ds := f.rec.get().Decisions
	if len(ds) != 1 || !strings.Contains(ds[0].Reason, "guest paused 70ms, over the downtime target 50ms: the pages left at the agent's suspend about 10ms") ||
		!strings.Contains(ds[0].Reason, "the rest 60ms") {
		t.Errorf("pause notes %+v, want one for the 70 ms pause: 10 ms of pages, the rest 60 ms", ds)
	}
}

var errEngine = errors.New("fake engine: migration job failed")

// TestForeignEngineFails: the source's engine fails before the guest
// arrived: the hand-off is rolled back on both ends, the guest stays.
func TestForeignEngineFails(t *testing.T) {
	r := newForeignRig(t, true)
	r.dst.noArrival = true
	r.src.failAfter, r.src.migrateErr = 1000, errEngine
	m, moved, _ := r.run(t, r.hA)
	if moved || m.State != api.MigrationFailed || !strings.Contains(m.Reason, errEngine.Error()) {
		t.Fatalf("moved %v state %s reason %q, want stayed and failed with the engine's error", moved, m.State, m.Reason)
	}
	if m.Committed {
		t.Errorf("source record committed after a failed engine migration")
	}
	if got, want := r.sideCalls("src"), []string{"src.Begin", "src.Rollback"}; !slices.Equal(got, want) {
		t.Errorf("source hand-off calls %q, want %q", got, want)
	}
	if got, want := r.sideCalls("dst"), []string{"dst.Prepare", "dst.Rollback"}; !slices.Equal(got, want) {
		t.Errorf("destination hand-off calls %q, want %q", got, want)
	}
	d := r.agent.record(foreignID)
	if d.State != api.MigrationFailed || !strings.Contains(d.Reason, errEngine.Error()) {
		t.Errorf("destination record %s %q: want failed with the source's reason", d.State, d.Reason)
	}
	r.dst.mu.Lock()
	defer r.dst.mu.Unlock()
	if len(r.dst.resumes) != 0 {
		t.Errorf("destination engine resumed %q after a failed migration", r.dst.resumes)
	}
	// The relay stops with the failure: some of the bytes sent before it
	// may not have crossed, but none other.
	if !bytes.HasPrefix(r.src.payload[:1000], r.dst.received) {
		t.Errorf("destination QEMU got %d bytes, not a prefix of the 1000 sent before the failure", len(r.dst.received))
	}
}

// TestForeignNoEngineAtDestination: an agent without an engine refuses a
// foreign guest; the source fails before any hand-off.
func TestForeignNoEngineAtDestination(t *testing.T) {
	r := newForeignRig(t, false)
	m, moved, _ := r.run(t, r.hA)
	if moved || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "--libvirt-uri") {
		t.Fatalf("moved %v state %s reason %q, want stayed and failed naming --libvirt-uri", moved, m.State, m.Reason)
	}
	if calls := r.callList(); len(calls) != 0 {
		t.Errorf("hand-off calls %q, want none", calls)
	}
	if d, ok := r.agent.Lookup(foreignID); ok {
		t.Errorf("destination recorded a refused session: %+v", d)
	}
	r.src.mu.Lock()
	defer r.src.mu.Unlock()
	if r.src.destURI != "" {
		t.Errorf("source engine migrated to %q after a refusal", r.src.destURI)
	}
}

// TestForeignResumeFails: the engine moved the guest but the destination
// cannot resume it: it stays there paused for an operator. The
// destination fails its record and drops its hold; the source knows the
// guest moved and fails its record without rolling back.
func TestForeignResumeFails(t *testing.T) {
	r := newForeignRig(t, true)
	r.dst.noArrival = true // Commit drives the resume: the order is fixed
	r.dst.resumeErr = errors.New("fake engine: cannot resume")
	m, moved, _ := r.run(t, r.hA)
	if !moved || m.State != api.MigrationFailed || !strings.HasPrefix(m.Reason, "the guest moved; ") || !strings.Contains(m.Reason, "cannot resume") {
		t.Fatalf("moved %v state %s reason %q, want moved and failed with the destination's reason", moved, m.State, m.Reason)
	}
	if !m.Committed {
		t.Errorf("source record not committed: the engine moved the guest")
	}
	r.checkStream(t, m.WireBytes)
	// The source's BUFFER is neither flushed nor rolled back: the guest is
	// gone from here, and nothing runs at the destination to take it.
	if got, want := r.sideCalls("src"), []string{"src.Begin", "src.Switchover"}; !slices.Equal(got, want) {
		t.Errorf("source hand-off calls %q, want %q", got, want)
	}
	if got, want := r.sideCalls("dst"), []string{"dst.Prepare", "dst.Rollback"}; !slices.Equal(got, want) {
		t.Errorf("destination hand-off calls %q, want %q", got, want)
	}
	d := r.agent.record(foreignID)
	if d.State != api.MigrationFailed || !strings.Contains(d.Reason, "resume it with the engine") {
		t.Errorf("destination record %s %q: want failed, telling to resume with the engine", d.State, d.Reason)
	}
}

// TestForeignLateStopEvent: the engine's stop event reaches the session
// after its migration failed and the session ended (libvirt's events come
// on a connection of their own, its goroutine may call stopped after
// Migrate returned). The guest runs here: no BUFFER after the rollback,
// and the ended record stays as it was.
func TestForeignLateStopEvent(t *testing.T) {
	r := newForeignRig(t, true)
	r.dst.noArrival = true
	r.src.lateStop, r.src.migrateErr = make(chan func(), 1), errEngine
	m, moved, _ := r.run(t, r.hA)
	if moved || m.State != api.MigrationFailed {
		t.Fatalf("moved %v state %s reason %q, want stayed and failed", moved, m.State, m.Reason)
	}
	stopped := <-r.src.lateStop
	stopped()
	if got, want := r.sideCalls("src"), []string{"src.Begin", "src.Rollback"}; !slices.Equal(got, want) {
		t.Errorf("source hand-off calls %q, want %q (no switchover after the rollback)", got, want)
	}
	after := r.records()
	if last := after[len(after)-1]; last.State != api.MigrationFailed || !slices.Equal(phaseNames(last), phaseNames(m)) {
		t.Errorf("source record after the late event: %s phases %q, want it as it ended: %s %q", last.State, phaseNames(last), m.State, phaseNames(m))
	}
}

// TestForeignSessionRecorded: a Hello for a session the destination
// already recorded is refused before anything is held.
func TestForeignSessionRecorded(t *testing.T) {
	r := newForeignRig(t, true)
	r.dst.noArrival = true
	if m, moved, _ := r.run(t, r.hA); !moved || m.State != api.MigrationCompleted {
		t.Fatalf("first run: moved %v state %s reason %q", moved, m.State, m.Reason)
	}
	before := r.callList()
	first := r.agent.record(foreignID)
	m, moved, _ := r.run(t, r.hA)
	if moved || m.State != api.MigrationFailed || !strings.Contains(m.Reason, "already recorded") {
		t.Fatalf("second run of %s: moved %v state %s reason %q, want refused as already recorded", foreignID, moved, m.State, m.Reason)
	}
	if calls := r.callList(); !slices.Equal(calls, before) {
		t.Errorf("hand-off calls of the refused run: %q", calls[len(before):])
	}
	if d := r.agent.record(foreignID); d.State != first.State || !d.Started.Equal(first.Started) {
		t.Errorf("destination record changed by the refused run: %+v", d)
	}
}

// TestForeignOperatorMigration: an operator's own migration, begun by the
// engine on the agent's standing socket before the session existed, is
// carried and followed (Engine.Follow) like the agent's own: the same
// hand-off on both ends, the bytes intact both ways, the destination told
// the standing socket's name.
func TestForeignOperatorMigration(t *testing.T) {
	r := newForeignRig(t, true)
	r.setStats()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "to.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	eng, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	acc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r.src.opConn, r.accepted = eng, acc
	r.src.destURI = r.dst.uri // the operator named it to their engine, not the session
	m, moved, _ := r.run(t, r.hA)
	r.checkSuccess(t, m, moved)
	if d := r.agent.record(foreignID); d.State != api.MigrationCompleted {
		t.Errorf("destination record %s %q, want completed", d.State, d.Reason)
	}
	if m.Request.To != "hostB" || PeerSocketName("hostB") != "to-hostB" {
		t.Errorf("request to %q, standing socket %q", m.Request.To, PeerSocketName("hostB"))
	}
}
