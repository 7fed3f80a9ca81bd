package api

import (
	"errors"
	"net/http"
)

// Sentinel errors. The agent maps them to HTTP codes; the client maps the
// codes back, so callers on both sides can use errors.Is.
var (
	ErrInvalidSpec  = errors.New("invalid vm spec")
	ErrNotFound     = errors.New("no such vm")
	ErrExists       = errors.New("vm already exists")
	ErrAddressInUse = errors.New("address already in use")
	ErrNoImage      = errors.New("image not found")
	ErrQEMU         = errors.New("qemu failed")
	ErrUnavailable  = errors.New("agent unavailable")

	ErrInvalidRequest = errors.New("invalid migration request")
	ErrNoMigration    = errors.New("no such migration")
	ErrBusy           = errors.New("vm is busy")        // already migrating
	ErrPeer           = errors.New("peer agent failed") // unreachable, refused, or died
	ErrUnknownHost    = errors.New("unknown host")
	ErrMigration      = errors.New("migration failed")
	// ErrForeign: the VM is run by another engine (api.VM.Source), which
	// the agent only watches.
	ErrForeign = errors.New("vm is managed by another engine")
)

var codes = []struct {
	err    error
	code   string
	status int
}{
	{ErrInvalidSpec, "invalid_spec", http.StatusBadRequest},
	{ErrNotFound, "not_found", http.StatusNotFound},
	{ErrExists, "exists", http.StatusConflict},
	{ErrAddressInUse, "address_in_use", http.StatusConflict},
	{ErrNoImage, "no_image", http.StatusUnprocessableEntity},
	{ErrQEMU, "qemu", http.StatusBadGateway},
	{ErrUnavailable, "unavailable", http.StatusServiceUnavailable},
	{ErrInvalidRequest, "invalid_request", http.StatusBadRequest},
	{ErrNoMigration, "no_migration", http.StatusNotFound},
	{ErrBusy, "busy", http.StatusConflict},
	{ErrPeer, "peer", http.StatusBadGateway},
	{ErrUnknownHost, "unknown_host", http.StatusUnprocessableEntity},
	{ErrMigration, "migration", http.StatusInternalServerError},
	{ErrForeign, "foreign", http.StatusConflict},
}

// Error is the JSON body of every failed request.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Detail carries long diagnostics, e.g. QEMU's stderr.
	Detail string `json:"detail,omitempty"`
	Status int    `json:"-"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Message + "\n" + e.Detail
	}
	return e.Message
}

// Is lets errors.Is(err, ErrNotFound) work on a decoded *Error.
func (e *Error) Is(target error) bool {
	for _, c := range codes {
		if c.err == target {
			return c.code == e.Code
		}
	}
	return false
}

// ErrorFor builds the body and HTTP status for err. Detail is taken from a
// wrapped *DetailError if there is one.
func ErrorFor(err error) *Error {
	e := &Error{Code: "internal", Message: err.Error(), Status: http.StatusInternalServerError}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			e.Code, e.Status = c.code, c.status
			break
		}
	}
	var d *DetailError
	if errors.As(err, &d) {
		e.Detail = d.Detail
	}
	return e
}

// DetailError attaches long diagnostics (such as QEMU's stderr) to an error.
type DetailError struct {
	Err    error
	Detail string
}

func (d *DetailError) Error() string { return d.Err.Error() }
func (d *DetailError) Unwrap() error { return d.Err }
