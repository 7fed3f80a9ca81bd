package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Client talks to one migratord over its unix socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the agent listening on the unix socket path.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Health asks the agent who it is.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/v1/health", nil, &h)
	return h, err
}

// StartVM creates and boots a guest.
func (c *Client) StartVM(ctx context.Context, spec VMSpec) (VM, error) {
	var vm VM
	err := c.do(ctx, http.MethodPost, "/v1/vms", spec, &vm)
	return vm, err
}

// ListVMs lists the agent's guests.
func (c *Client) ListVMs(ctx context.Context) ([]VM, error) {
	var vms []VM
	err := c.do(ctx, http.MethodGet, "/v1/vms", nil, &vms)
	return vms, err
}

// GetVM returns one guest's record.
func (c *Client) GetVM(ctx context.Context, name string) (VM, error) {
	var vm VM
	err := c.do(ctx, http.MethodGet, "/v1/vms/"+url.PathEscape(name), nil, &vm)
	return vm, err
}

// VMStatus returns a guest's record with QEMU's and the vnf's status.
func (c *Client) VMStatus(ctx context.Context, name string) (VMStatus, error) {
	var st VMStatus
	err := c.do(ctx, http.MethodGet, "/v1/vms/"+url.PathEscape(name)+"/status", nil, &st)
	return st, err
}

// StopVM stops a guest and removes what was made for it.
func (c *Client) StopVM(ctx context.Context, name string) (VM, error) {
	var vm VM
	err := c.do(ctx, http.MethodDelete, "/v1/vms/"+url.PathEscape(name), nil, &vm)
	return vm, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Code, e.Message = "internal", fmt.Sprintf("agent answered %s: %s", resp.Status, bytes.TrimSpace(data))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	return nil
}

// Migrate asks the source agent to start a migration; it returns at once
// with the new record (state setup). Poll GetMigration for progress.
func (c *Client) Migrate(ctx context.Context, req MigrateRequest) (Migration, error) {
	var m Migration
	err := c.do(ctx, http.MethodPost, "/v1/migrations", req, &m)
	return m, err
}

// ListMigrations lists the agent's migration records, newest first.
func (c *Client) ListMigrations(ctx context.Context) ([]Migration, error) {
	var ms []Migration
	err := c.do(ctx, http.MethodGet, "/v1/migrations", nil, &ms)
	return ms, err
}

// GetMigration returns one migration, live while it runs.
func (c *Client) GetMigration(ctx context.Context, id string) (Migration, error) {
	var m Migration
	err := c.do(ctx, http.MethodGet, "/v1/migrations/"+url.PathEscape(id), nil, &m)
	return m, err
}

// CancelMigration asks the agent to cancel a running migration; the guest
// stays on the source. It returns the record as it stands.
func (c *Client) CancelMigration(ctx context.Context, id string) (Migration, error) {
	var m Migration
	err := c.do(ctx, http.MethodPost, "/v1/migrations/"+url.PathEscape(id)+"/cancel", nil, &m)
	return m, err
}

// ResolveMigration settles a migration whose outcome is unknown as the
// operator says (see ResolveRequest) and returns its final record.
func (c *Client) ResolveMigration(ctx context.Context, id string, req ResolveRequest) (Migration, error) {
	var m Migration
	err := c.do(ctx, http.MethodPost, "/v1/migrations/"+url.PathEscape(id)+"/resolve", req, &m)
	return m, err
}

// AttachVerification stores netctl's verification result in the record.
func (c *Client) AttachVerification(ctx context.Context, id string, v json.RawMessage) (Migration, error) {
	var m Migration
	err := c.do(ctx, http.MethodPut, "/v1/migrations/"+url.PathEscape(id)+"/verification", v, &m)
	return m, err
}
