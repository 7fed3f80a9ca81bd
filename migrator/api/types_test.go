package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func goodSpec() VMSpec {
	s := VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1",
		VNFArgs: []string{"--wss", "64"}}
	s.Defaults()
	return s
}

func TestDefaults(t *testing.T) {
	s := VMSpec{}
	s.Defaults()
	if s.MemoryMiB != 256 || s.VCPUs != 1 || s.Image != "vnf" {
		t.Fatalf("defaults: %+v", s)
	}
	if err := (func() error { g := goodSpec(); return g.Validate() })(); err != nil {
		t.Fatalf("good spec refused: %v", err)
	}
}

func TestValidateRefuses(t *testing.T) {
	cases := []struct {
		edit    func(*VMSpec)
		mention string
	}{
		{func(s *VMSpec) { s.Name = "" }, "name"},
		{func(s *VMSpec) { s.Name = "Fw1" }, "name"},
		{func(s *VMSpec) { s.Name = strings.Repeat("a", 33) }, "name"},
		{func(s *VMSpec) { s.MemoryMiB = 8 }, "memory"},
		{func(s *VMSpec) { s.VCPUs = 0 }, "vcpus"},
		{func(s *VMSpec) { s.Image = "../etc" }, "image"},
		{func(s *VMSpec) { s.MAC = "52:54:00:12:34" }, "mac"},
		{func(s *VMSpec) { s.MAC = "01:00:5e:00:00:01" }, "multicast"},
		{func(s *VMSpec) { s.Address = "198.18.0.100" }, "address"},
		{func(s *VMSpec) { s.Address = "198.18.0.0/24" }, "address"},
		{func(s *VMSpec) { s.Address = "2001:db8::1/64" }, "address"},
		{func(s *VMSpec) { s.Gateway = "198.19.0.1" }, "gateway"},
		{func(s *VMSpec) { s.Gateway = "198.18.0.100" }, "gateway"},
		{func(s *VMSpec) { s.VNFArgs = []string{"--x y"} }, "vnf argument"},
		{func(s *VMSpec) { s.VNFArgs = []string{"a,b"} }, "vnf argument"},
		{func(s *VMSpec) { s.Network = "Core" }, "network"},
		{func(s *VMSpec) { s.NICs = []NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100"}} }, "nic 1: address"},
		{func(s *VMSpec) { s.NICs = []NIC{{MAC: "52:54:00:12:34:56", Address: "198.19.0.100/24"}} }, "nic 1: mac 52:54:00:12:34:56 is another nic's"},
		{func(s *VMSpec) { s.NICs = []NIC{{MAC: "52:54:00:12:34:57", Address: "198.18.0.100/16"}} }, "nic 1: address 198.18.0.100 is another nic's"},
		{func(s *VMSpec) { s.NICs = []NIC{{MAC: "03:54:00:12:34:57", Address: "198.19.0.100/24"}} }, "nic 1: mac"},
		{func(s *VMSpec) {
			s.NICs = []NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100/24", Network: "a b"}}
		}, "nic 1: network"},
		{func(s *VMSpec) { s.NICs = make([]NIC, MaxNICs) }, "nics: at most"},
		{func(s *VMSpec) {
			s.NICs = []NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100/24"}}
			s.Gateway = "198.19.0.100"
		}, "gateway 198.19.0.100 is the guest's own address"},
	}
	for i, c := range cases {
		s := goodSpec()
		c.edit(&s)
		err := s.Validate()
		if !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("case %d: got %v, want ErrInvalidSpec", i, err)
			continue
		}
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("case %d: %q does not mention %q", i, err, c.mention)
		}
	}
}

func TestErrorForRoundTrip(t *testing.T) {
	for _, c := range codes {
		wrapped := fmt.Errorf("starting fw1: %w", &DetailError{Err: c.err, Detail: "stderr here"})
		e := ErrorFor(wrapped)
		if e.Status != c.status || e.Code != c.code || e.Detail != "stderr here" {
			t.Errorf("%v: got %+v", c.err, e)
		}
		if !errors.Is(e, c.err) {
			t.Errorf("decoded %q does not match %v", e.Code, c.err)
		}
		for _, other := range codes {
			if other.err != c.err && errors.Is(e, other.err) {
				t.Errorf("decoded %q also matches %v", e.Code, other.err)
			}
		}
	}
	if e := ErrorFor(errors.New("boom")); e.Status != http.StatusInternalServerError || e.Code != "internal" {
		t.Errorf("unknown error: %+v", e)
	}
}

// A guest drop counter not reported is left out of the JSON; a reported
// zero is kept.
func TestGuestStatusDropsJSON(t *testing.T) {
	zero, n := uint64(0), uint64(550)
	b, err := json.Marshal(GuestStatus{UDPRcvbufErrors: &n, RxDropped: &zero})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"udp_rcvbuf_errors":550`, `"rx_dropped":0`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s: no %s", s, want)
		}
	}
	for _, absent := range []string{"udp_in_errors", "udp_mem_errors"} {
		if strings.Contains(s, absent) {
			t.Errorf("%s: has %s, not reported", s, absent)
		}
	}
	var back GuestStatus
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.UDPInErrors != nil || back.RxDropped == nil || *back.RxDropped != 0 || *back.UDPRcvbufErrors != 550 {
		t.Errorf("round trip %+v", back)
	}
}

// A guest that is no router encodes as before; a router's counters not
// read are left out, a read zero kept.
func TestGuestRouterJSON(t *testing.T) {
	b, err := json.Marshal(GuestStatus{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "router") {
		t.Errorf("no router: %s", b)
	}
	zero := uint64(0)
	b, err = json.Marshal(GuestStatus{Router: &GuestRouter{Up: true, ForwardDrops: &zero}})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"router":{"up":true,"forward_drops":0}`) {
		t.Errorf("router: %s", s)
	}
	b, _ = json.Marshal(GuestRouter{FailedStep: "ruleset"})
	if s := string(b); s != `{"up":false,"failed_step":"ruleset"}` {
		t.Errorf("failed router: %s", s)
	}
}

// A spec with further NICs validates; its gateway may lie in any NIC's
// network; a one-NIC spec encodes exactly as before the NIC list (stored
// records and the agents' messages keep their bytes).
func TestSpecNICs(t *testing.T) {
	s := goodSpec()
	s.NICs = []NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100/24", Network: "core"}}
	s.Gateway = "198.19.0.1"
	if err := s.Validate(); err != nil {
		t.Fatalf("two-nic spec refused: %v", err)
	}
	all := s.AllNICs()
	if len(all) != 2 || all[0] != (NIC{MAC: s.MAC, Address: s.Address}) || all[1] != s.NICs[0] {
		t.Fatalf("AllNICs %+v", all)
	}
	one, err := json.Marshal(goodSpec())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"fw1","memory_mib":256,"vcpus":1,"image":"vnf","mac":"52:54:00:12:34:56","address":"198.18.0.100/24","gateway":"198.18.0.1","vnf_args":["--wss","64"]}`
	if string(one) != want {
		t.Fatalf("one-nic spec encodes as\n%s\nwant\n%s", one, want)
	}
}

// A one-NIC record has no "taps" key; AllTaps lists the first NIC's tap
// first.
func TestVMTaps(t *testing.T) {
	b, err := json.Marshal(VM{Spec: goodSpec(), Tap: "nfht1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"taps"`) {
		t.Errorf("one-nic record encodes a tap list: %s", b)
	}
	v := VM{Tap: "nfht1", Taps: []string{"nfht1n1", "nfht1n2"}}
	if got := v.AllTaps(); !slices.Equal(got, []string{"nfht1", "nfht1n1", "nfht1n2"}) {
		t.Errorf("AllTaps %q", got)
	}
}

// TestValidateForeign: a foreign guest's spec (the engine's domain as the
// agent lists it) needs only a name and addressed NICs; memory, vCPUs and
// image are the engine's.
func TestValidateForeign(t *testing.T) {
	good := VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1",
		NICs: []NIC{{MAC: "52:54:00:12:34:57", Address: "198.19.0.100/24", Network: "core"}}}
	if err := good.ValidateForeign(); err != nil {
		t.Fatalf("good foreign spec refused: %v", err)
	}
	if err := good.Validate(); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "memory") {
		t.Errorf("Validate of a spec without memory: %v, want it refused for its memory", err)
	}
	cases := []struct {
		name    string
		edit    func(*VMSpec)
		mention string
	}{
		{"no nic", func(s *VMSpec) { s.MAC, s.Address, s.Gateway, s.NICs = "", "", "", nil }, "no nic"},
		{"first nic without mac", func(s *VMSpec) { s.MAC = "" }, "no nic"},
		{"first nic without address", func(s *VMSpec) { s.Address = "" }, "address"},
		{"second nic without address", func(s *VMSpec) { s.NICs[0].Address = "" }, "nic 1: address"},
		{"bad mac", func(s *VMSpec) { s.MAC = "01:00:5e:00:00:01" }, "multicast"},
		{"empty name", func(s *VMSpec) { s.Name = "" }, "name"},
		{"upper-case name", func(s *VMSpec) { s.Name = "Fw1" }, "name"},
		{"long name", func(s *VMSpec) { s.Name = strings.Repeat("a", 33) }, "name"},
		{"name with a slash", func(s *VMSpec) { s.Name = "fw/1" }, "name"},
		{"gateway outside", func(s *VMSpec) { s.Gateway = "203.0.113.1" }, "gateway"},
	}
	for _, c := range cases {
		s := good
		s.NICs = slices.Clone(good.NICs)
		c.edit(&s)
		err := s.ValidateForeign()
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: %v, want ErrInvalidSpec mentioning %q", c.name, err, c.mention)
		}
	}
}
