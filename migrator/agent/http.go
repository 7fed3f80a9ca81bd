package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 64 << 10

// Handler is the agent's API (and /metrics) as an http.Handler.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, a.count(h))
	}
	route("GET /v1/health", a.handleHealth)
	route("GET /v1/vms", a.handleList)
	route("POST /v1/vms", a.handleStart)
	route("GET /v1/vms/{name}", a.handleGet)
	route("DELETE /v1/vms/{name}", a.handleStop)
	route("GET /v1/vms/{name}/status", a.handleStatus)
	route("POST /v1/migrations", a.handleMigrate)
	route("GET /v1/migrations", a.handleListMigrations)
	route("GET /v1/migrations/{id}", a.handleGetMigration)
	route("POST /v1/migrations/{id}/cancel", a.handleCancelMigration)
	route("POST /v1/migrations/{id}/resolve", a.handleResolveMigration)
	route("PUT /v1/migrations/{id}/verification", a.handleVerification)
	mux.Handle("GET /metrics", a.count(a.MetricsHandler().ServeHTTP))
	// Known paths with another method, then everything else: JSON errors.
	for path, allow := range map[string]string{
		"/v1/health": "GET", "/v1/vms": "GET, POST", "/v1/vms/{name}": "GET, DELETE",
		"/v1/vms/{name}/status": "GET", "/metrics": "GET",
		"/v1/migrations": "GET, POST", "/v1/migrations/{id}": "GET",
		"/v1/migrations/{id}/cancel": "POST", "/v1/migrations/{id}/resolve": "POST", "/v1/migrations/{id}/verification": "PUT",
	} {
		route(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, &api.Error{Code: "method_not_allowed", Status: http.StatusMethodNotAllowed,
				Message: fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, allow)})
		})
	}
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &api.Error{Code: "no_route", Status: http.StatusNotFound,
			Message: fmt.Sprintf("%s %s: no such endpoint", r.Method, r.URL.Path)})
	})
	return mux
}

func (a *Agent) handleHealth(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	h := api.Health{Host: a.cfg.Host, Version: a.cfg.Version, Accel: a.accel, VMs: len(a.vms) + len(a.foreign)}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, h)
}

func (a *Agent) handleList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.ListVMs())
}

func (a *Agent) handleStart(w http.ResponseWriter, r *http.Request) {
	spec, err := decodeSpec(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		a.metrics.starts.Inc()
		e := api.ErrorFor(err)
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			e.Status = http.StatusRequestEntityTooLarge
		}
		a.metrics.startFailures.WithLabelValues(e.Code).Inc()
		writeError(w, e)
		return
	}
	// Detached from the request: a client that goes away mid-boot must not
	// leave a half-made guest; the start ends on its own timeout or shutdown.
	ctx, cancel := a.startContext()
	defer cancel()
	vm, err := a.StartVM(ctx, spec)
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusCreated, vm)
}

func (a *Agent) handleGet(w http.ResponseWriter, r *http.Request) {
	vm, err := a.GetVM(r.PathValue("name"))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, vm)
}

func (a *Agent) handleStop(w http.ResponseWriter, r *http.Request) {
	vm, err := a.StopVM(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, vm)
}

func (a *Agent) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := a.VMStatus(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// decodeSpec reads one JSON VMSpec: unknown fields, trailing data and
// bodies over the reader's limit are errors matching api.ErrInvalidSpec.
func decodeSpec(r io.Reader) (api.VMSpec, error) {
	var spec api.VMSpec
	if err := decodeStrict(r, &spec, api.ErrInvalidSpec); err != nil {
		return api.VMSpec{}, err
	}
	return spec, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, api.ErrorFor(fmt.Errorf("encoding response: %w", err)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *api.Error) {
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(b, '\n'))
}
