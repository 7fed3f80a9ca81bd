package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// raw sends one request to the harness's agent and returns status and body.
func (h *harness) raw(method, path, body string) (int, []byte) {
	h.t.Helper()
	sock := h.client.Socket()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequestWithContext(ctxT(h.t), method, "http://agent"+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestRequestBodyRefusals(t *testing.T) {
	h := newHarness(t)
	good, _ := json.Marshal(spec("fw1", 1))
	big := `{"name":"fw1","vnf_args":["` + strings.Repeat("a", MaxBodyBytes) + `"]}`
	cases := []struct {
		name, body string
		status     int
		mention    string
	}{
		{"unknown field", `{"name":"fw1","mac":"52:54:00:00:00:01","address":"198.18.0.101/24","colour":"red"}`, 400, "colour"},
		{"trailing data", string(good) + `{}`, 400, "more than one"},
		{"not json", `name=fw1`, 400, "invalid"},
		{"empty", ``, 400, "EOF"},
		{"wrong type", `{"name":"fw1","memory_mib":"lots"}`, 400, "memory_mib"},
		{"oversize", big, 413, "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := h.raw("POST", "/v1/vms", c.body)
			var e api.Error
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q is not an error: %v", body, err)
			}
			if status != c.status || e.Code != "invalid_spec" || !strings.Contains(e.Message, c.mention) {
				t.Fatalf("got %d %+v, want %d invalid_spec mentioning %q", status, e, c.status, c.mention)
			}
		})
	}
	if status, body := h.raw("POST", "/v1/vms", string(good)); status != 201 {
		t.Fatalf("good spec: %d %s", status, body)
	}
}

func TestRoutes(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"PUT", "/v1/vms", 405, "method_not_allowed"},
		{"POST", "/v1/vms/fw1", 405, "method_not_allowed"},
		{"GET", "/v2/vms", 404, "no_route"},
		{"GET", "/v1/vms/fw1", 404, "not_found"},
		{"DELETE", "/v1/vms/fw1", 404, "not_found"},
	}
	for _, c := range cases {
		status, body := h.raw(c.method, c.path, "")
		var e api.Error
		if json.Unmarshal(body, &e) != nil || status != c.status || e.Code != c.code {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, status, body, c.status, c.code)
		}
	}
	status, body := h.raw("GET", "/v1/vms", "")
	if status != 200 || !bytes.Equal(bytes.TrimSpace(body), []byte("[]")) {
		t.Errorf("empty list: %d %s, want 200 []", status, body)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	ctx := ctxT(t)
	h.client.StartVM(ctx, spec("fw1", 1))
	h.client.StartVM(ctx, spec("fw1", 1))
	h.client.StartVM(ctx, spec("fw2", 1))
	h.client.Health(ctx)
	status, body := h.raw("GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`nfh_vms{state="running"} 1`,
		`nfh_vms{state="failed"} 0`,
		`nfh_vm_starts_total 3`,
		`nfh_vm_start_failures_total{reason="exists"} 1`,
		`nfh_vm_start_failures_total{reason="address_in_use"} 1`,
		`nfh_api_requests_total{code="201",route="POST /v1/vms"} 1`,
		`nfh_api_requests_total{code="409",route="POST /v1/vms"} 2`,
		`nfh_agent_info{accel="tcg",host="hostA",version="test"} 1`,
		`go_goroutines`,
		`process_open_fds`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
