package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// step changes a running fake migration; one step is applied per GET of
// the record, in order. When the script is used up the record stays as it is.
type step func(m *api.Migration, now time.Time)

// fakeMigrations is the fake agent's migration state.
type fakeMigrations struct {
	script   []step
	migs     map[string]*api.Migration
	requests []api.MigrateRequest // every request POSTed
	cancels  []string             // every cancel, by ID
	attached map[string]json.RawMessage
	gets     int            // GETs of a single record served
	steps    map[string]int // script steps applied, by migration ID
	onGet    func(gets int) // called after each such GET, without the lock
	postErr  error          // if set, POST /v1/migrations fails with it
}

func (f *fakeAgent) migrationRoutes(m *http.ServeMux) {
	f.mig.migs = map[string]*api.Migration{}
	f.mig.attached = map[string]json.RawMessage{}
	f.mig.steps = map[string]int{}
	f.mig.script = scriptCompleted()
	m.HandleFunc("GET /v1/vms/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		vm, ok := f.vms[r.PathValue("name")]
		if !ok {
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNotFound, r.PathValue("name")))
			return
		}
		reply(w, http.StatusOK, vm)
	})
	m.HandleFunc("POST /v1/migrations", f.migrate)
	m.HandleFunc("GET /v1/migrations", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var ms []api.Migration
		for _, m := range f.mig.migs {
			ms = append(ms, *m)
		}
		slices.SortFunc(ms, func(a, b api.Migration) int { return a.Started.Compare(b.Started) }) // oldest first: netctl sorts
		reply(w, http.StatusOK, ms)
	})
	m.HandleFunc("GET /v1/migrations/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		m, ok := f.mig.migs[r.PathValue("id")]
		if !ok {
			f.mu.Unlock()
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNoMigration, r.PathValue("id")))
			return
		}
		if i := f.mig.steps[m.ID]; !api.Ended(m.State) && i < len(f.mig.script) {
			f.mig.script[i](m, time.Now())
			f.mig.steps[m.ID]++
		}
		f.mig.gets++
		n, hook, rec := f.mig.gets, f.mig.onGet, *m
		f.mu.Unlock()
		reply(w, http.StatusOK, rec)
		if hook != nil {
			hook(n)
		}
	})
	m.HandleFunc("POST /v1/migrations/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		m, ok := f.mig.migs[id]
		if !ok {
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNoMigration, id))
			return
		}
		f.mig.cancels = append(f.mig.cancels, id)
		if !api.Ended(m.State) {
			m.State, m.Reason, m.Ended = api.MigrationCancelled, "cancelled by the operator", time.Now()
		}
		reply(w, http.StatusOK, m)
	})
	m.HandleFunc("POST /v1/migrations/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		var req api.ResolveRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			replyErr(w, fmt.Errorf("%w: %v", api.ErrInvalidRequest, err))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		m, ok := f.mig.migs[r.PathValue("id")]
		switch {
		case !ok:
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNoMigration, r.PathValue("id")))
			return
		case m.State != api.MigrationUnknown:
			replyErr(w, fmt.Errorf("%w: migration %s is %s, not unknown", api.ErrInvalidRequest, m.ID, m.State))
			return
		case req.GuestOn == api.GuestOnDestination:
			m.State, m.Reason = api.MigrationCompleted, "resolved by the operator: the guest runs on "+m.To
		default:
			m.State, m.Reason = api.MigrationFailed, "resolved by the operator: resumed here"
		}
		m.Ended = time.Now()
		reply(w, http.StatusOK, m)
	})
	m.HandleFunc("PUT /v1/migrations/{id}/verification", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		m, ok := f.mig.migs[r.PathValue("id")]
		if !ok {
			replyErr(w, fmt.Errorf("%w: %s", api.ErrNoMigration, r.PathValue("id")))
			return
		}
		f.mig.attached[m.ID] = body
		m.Verification = body
		reply(w, http.StatusOK, m)
	})
}

func (f *fakeAgent) migrate(w http.ResponseWriter, r *http.Request) {
	var req api.MigrateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		replyErr(w, fmt.Errorf("%w: %v", api.ErrInvalidRequest, err))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mig.requests = append(f.mig.requests, req)
	if err := req.Validate(); err != nil {
		replyErr(w, err)
		return
	}
	if f.mig.postErr != nil {
		replyErr(w, f.mig.postErr)
		return
	}
	if _, ok := f.vms[req.VM]; !ok {
		replyErr(w, fmt.Errorf("%w: %s", api.ErrNotFound, req.VM))
		return
	}
	now := time.Now()
	m := &api.Migration{
		ID: fmt.Sprintf("%s-%d", f.host, len(f.mig.migs)+1), VM: req.VM, From: f.host, To: req.To,
		Role: "source", State: api.MigrationSetup, Request: req, Started: now,
		Phases: []api.Phase{{Name: "setup", Start: now}},
	}
	f.mig.migs[m.ID] = m
	reply(w, http.StatusCreated, m)
}

// addVM gives the fake a running guest named name at address (ADDR/PREFIX).
func (f *fakeAgent) addVM(name, address string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vms[name] = f.record(api.VMSpec{Name: name, Address: address, MAC: DeriveMAC(name), MemoryMiB: 256, VCPUs: 1, Image: "vnf"})
}

// addMigration stores a finished record as if it had run.
func (f *fakeAgent) addMigration(m api.Migration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mig.migs[m.ID] = &m
}

// endPhase ends the running phase at now and starts the named one.
func endPhase(m *api.Migration, now time.Time, next string) {
	if n := len(m.Phases); n > 0 && m.Phases[n-1].End.IsZero() {
		m.Phases[n-1].End = now
	}
	if next != "" {
		m.Phases = append(m.Phases, api.Phase{Name: next, Start: now})
	}
}

func active(pass int, percent float64) step {
	return func(m *api.Migration, now time.Time) {
		if m.State != api.MigrationActive {
			endPhase(m, now, "precopy")
		}
		m.State = api.MigrationActive
		total := uint64(256 << 20)
		m.Progress = api.Progress{
			Percent: percent, Total: total, Transferred: uint64(percent / 100 * float64(total)),
			Remaining: total - uint64(percent/100*float64(total)), Rate: 64 << 20, DirtyRate: 2 << 20,
			Bandwidth: 128 << 20, Pass: pass, ExpectedDowntime: api.Duration(30 * time.Millisecond),
			ETA: api.Duration(1700 * time.Millisecond), Elapsed: api.Duration(now.Sub(m.Started)),
		}
	}
}

func decide(action, value, reason string) step {
	return func(m *api.Migration, now time.Time) {
		m.Decisions = append(m.Decisions, api.Decision{At: now, Pass: m.Progress.Pass, Action: action, Value: value, Reason: reason})
	}
}

func switchover(m *api.Migration, now time.Time) {
	endPhase(m, now, "switchover")
	m.State = api.MigrationSwitchover
	m.Progress.Percent = 99
}

func completed(m *api.Migration, now time.Time) {
	endPhase(m, now, "")
	m.State, m.Ended = api.MigrationCompleted, now
	m.TotalTime = api.Duration(2400 * time.Millisecond)
	m.QEMUDowntime = api.Duration(38 * time.Millisecond)
	m.SetupTime = api.Duration(120 * time.Millisecond)
	m.RAM = api.RAMStats{Total: 256 << 20, Transferred: 270 << 20, DirtySyncCount: 3}
	m.WireBytes = 280 << 20
	m.Progress.Percent = 100
}

func failing(reason string) step {
	return func(m *api.Migration, now time.Time) {
		endPhase(m, now, "")
		m.State, m.Reason, m.Ended = api.MigrationFailed, reason, now
	}
}

func scriptCompleted() []step {
	return []step{
		active(1, 30),
		func(m *api.Migration, now time.Time) {
			active(2, 70)(m, now)
			decide("bandwidth", "128 MiB/s", "dirty rate 100 MiB/s + 25%")(m, now)
		},
		switchover,
		completed,
	}
}

func scriptFailed() []step {
	return []step{active(1, 30), failing("destination agent hostB died: quic: idle timeout")}
}

// scriptStuck stays active forever.
func scriptStuck() []step {
	return []step{active(1, 30), active(2, 40)}
}
