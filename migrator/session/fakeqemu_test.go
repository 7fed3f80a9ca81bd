package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx/qmpxtest"
)

// payload is what the fake source QEMU sends on its main channel.
var payload = bytes.Repeat([]byte("guest memory page "), 20000)

// fakeQEMU is a QMP server playing one end of a migration, and the Guest
// connected to it.
type fakeQEMU struct {
	t    *testing.T
	srv  *qmpxtest.Server
	mon  *qmpx.Monitor
	dir  string
	role string

	mu        sync.Mutex
	cmds      []string
	status    string // query-migrate status
	run       string // query-status status
	received  []byte // destination: what arrived on the main channel
	reply     []byte // source: what came back on the main channel
	stopped   bool
	cont      chan struct{} // source: migrate-continue
	hold      bool          // source: stay active until released
	throttle  int           // source: cpu-throttle-percentage while active
	throttled int           // source: query-migrate answers that carried a throttle
	syncs     int           // source: dirty-sync-count reported (0: 1)
	params    []string      // migrate-set-parameters arguments, as JSON
	release   chan struct{} // source: closed to leave active
	onCont    func() error  // destination: runs on cont
	trace     func(string)  // if set, called with every command but queries
	// noResume: migrate_cancel leaves the guest stopped (as QEMU does for
	// a guest that was not running), so the rollback must cont it.
	noResume bool
	// timesLate: how many query-migrate answers after completed still
	// carry no total-time (QEMU 7.2 computes it a moment later).
	timesLate int
	// postcopy, if set, makes the migration end in post-copy: both ends
	// report postcopy-active (the destination paused, ready for cont)
	// until postcopy is closed, then completed (failed if postcopyFail),
	// tracing "(postcopy-completed)" or "(postcopy-failed)" first.
	postcopy     chan struct{}
	postcopyFail bool
	// autostart: cont came while inmigrate, so the load's end starts the
	// guest (RESUME) instead of leaving it paused, unless keepPaused (as
	// QEMU keeps a precopy source's stopped run state).
	autostart  bool
	keepPaused bool
	// loaded, if set, holds the destination's load (inmigrate) after the
	// stream ended until it is closed.
	loaded   chan struct{}
	done     chan struct{}
	doneOnce sync.Once
}

func newFakeQEMU(t *testing.T, role string) *fakeQEMU {
	t.Helper()
	f := &fakeQEMU{t: t, role: role, dir: t.TempDir(), run: "running", cont: make(chan struct{}, 1),
		release: make(chan struct{}), done: make(chan struct{})}
	if role == "destination" {
		f.run = "inmigrate"
	}
	srv, err := qmpxtest.NewServer(filepath.Join(f.dir, "qmp.sock"), f.handle)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mon, err := qmpx.Dial(ctx, srv.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.mon = mon
	t.Cleanup(func() { mon.Close(); srv.Close() })
	return f
}

func (f *fakeQEMU) Execute(ctx context.Context, cmd string, args, out any) error {
	return f.mon.Execute(ctx, cmd, args, out)
}
func (f *fakeQEMU) Events(ctx context.Context) <-chan qmpx.Event { return f.mon.Events(ctx) }
func (f *fakeQEMU) Done() <-chan struct{}                        { return f.done }

func (f *fakeQEMU) Stop(ctx context.Context) error {
	f.mu.Lock()
	f.stopped = true
	f.cmds = append(f.cmds, "(stop)")
	trace := f.trace
	f.mu.Unlock()
	if trace != nil {
		trace("(stop)")
	}
	f.doneOnce.Do(func() { close(f.done) })
	return nil
}

func (f *fakeQEMU) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func (f *fakeQEMU) set(status, run string) {
	f.mu.Lock()
	if status != "" {
		f.status = status
	}
	started := false
	if run == "paused" && f.run == "inmigrate" && f.autostart && !f.keepPaused {
		run, started = "running", true
	}
	if run != "" {
		f.run = run
	}
	f.mu.Unlock()
	if started {
		f.srv.Emit(qmpcmd.EventResume, nil)
	}
	if status != "" {
		f.srv.Emit("MIGRATION", map[string]string{"status": status})
	}
}

func (f *fakeQEMU) runState() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.run
}

func (f *fakeQEMU) getStatus() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeQEMU) handle(cmd string, args json.RawMessage) (any, error) {
	f.mu.Lock()
	if cmd != qmpcmd.QueryMigrate && cmd != qmpcmd.QueryStatus {
		f.cmds = append(f.cmds, cmd)
	}
	status, run, throttle, trace, noResume := f.status, f.run, f.throttle, f.trace, f.noResume
	late := cmd == qmpcmd.QueryMigrate && status == "completed" && f.timesLate > 0
	if late {
		f.timesLate--
	}
	syncs := max(f.syncs, 1)
	if cmd == qmpcmd.MigrateSetParameters {
		f.params = append(f.params, string(args))
	}
	f.mu.Unlock()
	if trace != nil && cmd != qmpcmd.QueryMigrate && cmd != qmpcmd.QueryStatus {
		trace(cmd)
	}
	switch cmd {
	case qmpcmd.QueryMigrate:
		if status == "" {
			return struct{}{}, nil
		}
		r := map[string]any{"status": status, "total-time": 1234, "ram": map[string]any{
			"total": 256 << 20, "transferred": len(payload), "remaining": 1 << 20, "mbps": 100.0, "dirty-sync-count": syncs,
		}}
		if status == "completed" {
			r["downtime"] = 42
		}
		if late {
			delete(r, "total-time")
		}
		if status == "active" && throttle > 0 {
			r["cpu-throttle-percentage"] = throttle
			f.mu.Lock()
			f.throttled++
			f.mu.Unlock()
		}
		return r, nil
	case qmpcmd.QueryStatus:
		return map[string]any{"status": run, "running": run == "running"}, nil
	case qmpcmd.MigrateSetCapabilities, qmpcmd.MigrateSetParameters:
		return nil, nil
	case qmpcmd.Stop:
		f.set(status, "paused")
		return nil, nil
	case qmpcmd.Migrate:
		go f.migrate(uri(args))
		return nil, nil
	case qmpcmd.MigrateContinue:
		f.cont <- struct{}{}
		return nil, nil
	case qmpcmd.MigrateCancel:
		run := "running"
		if noResume {
			run = ""
		}
		go func() {
			f.set("cancelled", run)
		}()
		return nil, nil
	case qmpcmd.MigrateIncoming:
		ln, err := net.Listen("unix", strings.TrimPrefix(uri(args), "unix:"))
		if err != nil {
			return nil, err
		}
		go f.incoming(ln)
		return nil, nil
	case qmpcmd.Cont:
		if f.onCont != nil {
			if err := f.onCont(); err != nil {
				return nil, err
			}
		}
		f.mu.Lock()
		if f.run == "inmigrate" {
			f.autostart = true
			f.mu.Unlock()
			return nil, nil
		}
		f.mu.Unlock()
		f.set("", "running")
		f.srv.Emit(qmpcmd.EventResume, nil)
		return nil, nil
	}
	return nil, fmt.Errorf("The command %s has not been found", cmd)
}

func uri(args json.RawMessage) string {
	var a struct {
		URI string `json:"uri"`
	}
	json.Unmarshal(args, &a)
	return a.URI
}

// migrate plays the source QEMU: send the payload on one channel, read the
// destination's answer (the return path), stop at pre-switchover.
func (f *fakeQEMU) migrate(u string) {
	f.set("setup", "")
	c, err := net.Dial("unix", strings.TrimPrefix(u, "unix:"))
	if err != nil {
		f.set("failed", "")
		return
	}
	defer c.Close()
	f.set("active", "")
	if f.hold {
		select {
		case <-f.release:
		case <-f.done:
			return
		}
		if f.getStatus() != "active" {
			return
		}
	}
	if _, err := c.Write(payload); err != nil {
		f.set("failed", "")
		return
	}
	c.(*net.UnixConn).CloseWrite()
	reply, err := io.ReadAll(c)
	f.mu.Lock()
	f.reply = reply
	f.mu.Unlock()
	if err != nil || f.getStatus() != "active" {
		return
	}
	f.set("pre-switchover", "finish-migrate")
	select {
	case <-f.cont:
	case <-time.After(10 * time.Second):
		return
	}
	if f.getStatus() != "pre-switchover" {
		return
	}
	f.set("device", "")
	if f.endPostcopy("") {
		return
	}
	f.set("completed", "postmigrate")
}

// endPostcopy plays the post-copy phase, if the test asked for one, and
// reports whether it did: postcopy-active until f.postcopy is closed, then
// completed or failed. run is the run state while post-copy is active.
func (f *fakeQEMU) endPostcopy(run string) bool {
	f.mu.Lock()
	pc, fail, trace := f.postcopy, f.postcopyFail, f.trace
	f.mu.Unlock()
	if pc == nil {
		return false
	}
	f.set("postcopy-active", run)
	select {
	case <-pc:
	case <-f.done:
		return true
	}
	end := "completed"
	if fail {
		end = "failed"
	}
	if trace != nil {
		trace("(postcopy-" + end + ")")
	}
	f.set(end, "")
	return true
}

// incoming plays the destination QEMU: read the main channel to its end,
// answer, and complete paused (-S).
func (f *fakeQEMU) incoming(ln net.Listener) {
	defer ln.Close()
	f.set("active", "")
	c, err := ln.Accept()
	if err != nil {
		return
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	f.mu.Lock()
	f.received = got
	f.mu.Unlock()
	if err != nil || !bytes.Equal(got, payload) {
		f.set("failed", "")
		return
	}
	c.Write([]byte("SHUT"))
	c.(*net.UnixConn).CloseWrite()
	f.mu.Lock()
	loaded := f.loaded
	f.mu.Unlock()
	if loaded != nil {
		select {
		case <-loaded:
		case <-f.done:
			return
		}
	}
	if f.endPostcopy("paused") {
		return
	}
	f.set("completed", "paused")
}
