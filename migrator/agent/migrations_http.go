package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func (a *Agent) handleMigrate(w http.ResponseWriter, r *http.Request) {
	req, err := decodeMigrateRequest(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	// The dial is bounded by DialTimeout; the migration itself runs on.
	m, err := a.Migrate(r.Context(), req)
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusAccepted, m)
}

func (a *Agent) handleListMigrations(w http.ResponseWriter, r *http.Request) {
	ms, err := a.ListMigrations()
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, ms)
}

func (a *Agent) handleGetMigration(w http.ResponseWriter, r *http.Request) {
	m, err := a.GetMigration(r.PathValue("id"))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *Agent) handleCancelMigration(w http.ResponseWriter, r *http.Request) {
	m, err := a.CancelMigration(r.PathValue("id"))
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *Agent) handleResolveMigration(w http.ResponseWriter, r *http.Request) {
	var req api.ResolveRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, MaxBodyBytes), &req, api.ErrInvalidRequest); err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	m, err := a.ResolveMigration(r.Context(), r.PathValue("id"), req)
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *Agent) handleVerification(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		writeError(w, api.ErrorFor(fmt.Errorf("%w: reading verification: %w", api.ErrInvalidRequest, err)))
		return
	}
	m, err := a.AttachVerification(r.PathValue("id"), body)
	if err != nil {
		writeError(w, api.ErrorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// decodeMigrateRequest reads one JSON MigrateRequest strictly.
func decodeMigrateRequest(r io.Reader) (api.MigrateRequest, error) {
	var req api.MigrateRequest
	return req, decodeStrict(r, &req, api.ErrInvalidRequest)
}

// decodeStrict reads exactly one JSON value into v: unknown fields,
// trailing data and bodies over the reader's limit are errors matching
// sentinel.
func decodeStrict(r io.Reader, v any, sentinel error) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decoding request body: %w", sentinel, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return fmt.Errorf("%w: decoding request body: %w", sentinel, err)
	}
	return nil
}
