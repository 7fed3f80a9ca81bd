package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// testNow is the clock of every test run; fake VMs started at testNow-3m12s.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeAgent implements just enough of migratord's API on a unix socket.
type fakeAgent struct {
	host   string
	socket string

	mu         sync.Mutex
	vms        map[string]*api.VM
	started    []api.VMSpec // every spec POSTed
	polls      int          // status requests served
	guestAfter int          // the vnf answers from this status request on (1-based); <0 never
	guest      api.GuestStatus
	ws         *api.WorkingSetStatus // the working set status shows
	failReason string                // if set, status reports the VM failed with this reason
	startErr   error                 // if set, POST /v1/vms fails with it
	delay      time.Duration
	mig        fakeMigrations
}

// newFakeAgent serves a fake agent at <runDir>/<host>/api.sock.
func newFakeAgent(t *testing.T, runDir, host string) *fakeAgent {
	t.Helper()
	f := &fakeAgent{
		host:       host,
		socket:     filepath.Join(runDir, host, "api.sock"),
		vms:        map[string]*api.VM{},
		guestAfter: 1,
		guest: api.GuestStatus{
			BootID: "00112233445566778899aabbccddeeff", Uptime: 185 * time.Second,
			PacketsReflected: 1234, EchoPackets: 56, ReflectorSeq: 1290,
			WSSPages: 16384, PagesWritten: 40000, PagesVerified: 39000, VerifyPasses: 3,
		},
	}
	if err := os.MkdirAll(filepath.Dir(f.socket), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f.mux())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fakeAgent) mux() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h := api.Health{Host: f.host, Version: "test-1", Accel: "tcg", VMs: len(f.vms)}
		d := f.delay
		f.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		reply(w, http.StatusOK, h)
	})
	m.HandleFunc("GET /v1/vms", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var vms []api.VM
		for _, k := range slices.Sorted(maps.Keys(f.vms)) {
			vms = append(vms, *f.vms[k])
		}
		reply(w, http.StatusOK, vms)
	})
	m.HandleFunc("POST /v1/vms", f.start)
	m.HandleFunc("GET /v1/vms/{name}/status", f.status)
	m.HandleFunc("DELETE /v1/vms/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		vm, ok := f.vms[r.PathValue("name")]
		if !ok {
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNotFound, r.PathValue("name")))
			return
		}
		delete(f.vms, vm.Spec.Name)
		vm.State, vm.PID = api.StateStopped, 0
		reply(w, http.StatusOK, vm)
	})
	f.migrationRoutes(m)
	return m
}

func (f *fakeAgent) start(w http.ResponseWriter, r *http.Request) {
	var spec api.VMSpec
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
		replyErr(w, fmt.Errorf("%w: %v", api.ErrInvalidSpec, err))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, spec)
	if err := spec.Validate(); err != nil {
		replyErr(w, err)
		return
	}
	if f.startErr != nil {
		replyErr(w, f.startErr)
		return
	}
	if _, ok := f.vms[spec.Name]; ok {
		replyErr(w, fmt.Errorf("%w: %s", api.ErrExists, spec.Name))
		return
	}
	f.vms[spec.Name] = f.record(spec)
	reply(w, http.StatusCreated, f.vms[spec.Name])
}

// record is an agent's record of spec: NIC i's tap is "nfht" + the name,
// then "n" + i after the first.
func (f *fakeAgent) record(spec api.VMSpec) *api.VM {
	var taps []string
	for i := range spec.NICs {
		taps = append(taps, fmt.Sprintf("nfht%sn%d", spec.Name, i+1))
	}
	return &api.VM{
		Spec: spec, State: api.StateRunning, Host: f.host, PID: 4242, Tap: "nfht" + spec.Name, Taps: taps, Accel: "tcg",
		QMPSocket:  "/state/vms/" + spec.Name + "/qmp.sock",
		ConsoleLog: "/state/vms/" + spec.Name + "/console.log",
		Created:    testNow.Add(-193 * time.Second), Started: testNow.Add(-192 * time.Second),
	}
}

func (f *fakeAgent) status(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vm, ok := f.vms[r.PathValue("name")]
	if !ok {
		replyErr(w, fmt.Errorf("%w: %s", api.ErrNotFound, r.PathValue("name")))
		return
	}
	f.polls++
	st := api.VMStatus{VM: *vm, QEMUStatus: "running", WorkingSet: f.ws}
	switch {
	case f.failReason != "":
		st.State, st.Reason, st.QEMUStatus = api.StateFailed, f.failReason, ""
	case f.guestAfter >= 0 && f.polls >= f.guestAfter:
		g := f.guest
		st.Guest = &g
	default:
		st.GuestError = "no answer from 198.18.0.100:9862: i/o timeout"
	}
	reply(w, http.StatusOK, st)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func replyErr(w http.ResponseWriter, err error) {
	e := api.ErrorFor(err)
	reply(w, e.Status, e)
}

// result is what one netctl run printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// run runs netctl with args in an environment holding env (NFH_RUN_DIR etc.).
func run(t *testing.T, env map[string]string, args ...string) result {
	return runTTY(t, false, env, args...)
}

func runTTY(t *testing.T, tty bool, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return runCtx(t, ctx, tty, env, args...)
}

// runCtx runs netctl with args under ctx, on a terminal if tty.
func runCtx(t *testing.T, ctx context.Context, tty bool, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := RunWith(ctx, Env{
		Stdout: &out, Stderr: &errb, Terminal: tty,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return testNow },
	}, args)
	if err != nil && ExitCode(err) == 0 {
		t.Fatalf("RunWith returned %v with exit code 0", err)
	}
	r := result{stdout: out.String(), stderr: errb.String(), code: ExitCode(err)}
	t.Logf("netctl %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	return r
}

// testbed is a run dir with a fake agent for each host name.
func testbed(t *testing.T, hosts ...string) (map[string]string, map[string]*fakeAgent) {
	dir := t.TempDir()
	agents := map[string]*fakeAgent{}
	for _, h := range hosts {
		agents[h] = newFakeAgent(t, dir, h)
	}
	return map[string]string{"NFH_RUN_DIR": dir}, agents
}
