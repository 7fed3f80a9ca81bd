package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func testSpec() api.VMSpec {
	s := api.VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1"}
	s.Defaults()
	return s
}

func testHello() Hello {
	req := api.MigrateRequest{VM: "fw1", To: "hostB"}
	req.Defaults()
	return Hello{ID: "hostA-1", Source: "hostA", Spec: testSpec(), Request: req,
		Capabilities: map[string]bool{"events": true, "pause-before-switchover": true, "postcopy-ram": true}}
}

func TestMessagesRoundTrip(t *testing.T) {
	msgs := []any{testHello(), Ready{PID: 7}, Commit{}, Running{}, Abort{Reason: "no"},
		StatusRequest{ID: "hostA-1"}, StatusReply{ID: "hostA-1", State: StatusRunning},
		Recover{ID: "hostA-1", Attempt: 1}, RecoverReady{}}
	var b bytes.Buffer
	for _, m := range msgs {
		if err := WriteMessage(&b, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := ReadMessage(&b)
		if err != nil {
			t.Fatalf("%T: %v", want, err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Errorf("got %s, want %s", gj, wj)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	h := testHello()
	good, _ := json.Marshal(h)
	if _, err := DecodeHello(good); err != nil {
		t.Fatalf("good hello: %v", err)
	}
	bad := map[string]func(*Hello){
		"session id":  func(h *Hello) { h.ID = "a/b" },
		"source":      func(h *Hello) { h.Source = "" },
		"spec":        func(h *Hello) { h.Spec.MAC = "x" },
		"request":     func(h *Hello) { h.Request.Postcopy = "maybe" },
		"vm mismatch": func(h *Hello) { h.Request.VM = "other" },
		"capability":  func(h *Hello) { h.Capabilities["x-colo"] = true },
		"multifd":     func(h *Hello) { h.MultifdChannels = 2 },
		"engine":      func(h *Hello) { h.Engine = "vmware" },
		"engine case": func(h *Hello) { h.Engine = "Libvirt" },
	}
	for name, edit := range bad {
		h := testHello()
		edit(&h)
		b, _ := json.Marshal(h)
		if _, err := DecodeHello(b); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", name, err)
		}
	}
	for _, in := range []string{`{"id":"hostA-1","extra":1}`, `{"id":"hostA-1"} {}`, `[]`, `{"id":""}`} {
		if _, err := DecodeStatusRequest([]byte(in)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("status request %s: %v, want ErrBadMessage", in, err)
		}
	}
	if _, err := DecodeAbort([]byte(`{"reason":""}`)); err == nil {
		t.Error("empty abort reason accepted")
	}
	if _, err := DecodeStatusReply([]byte(`{"id":"x","state":"maybe"}`)); err == nil {
		t.Error("unknown status state accepted")
	}
	if _, err := DecodeMessage(99, []byte(`{}`)); !errors.Is(err, ErrBadMessage) {
		t.Errorf("unknown type: %v", err)
	}
}

// foreignHello is a Hello of a libvirt domain: its spec as the agent
// lists it, without memory, vCPUs or image (the engine's).
func foreignHello() Hello {
	h := testHello()
	h.Spec = api.VMSpec{Name: "fw1", MAC: "52:54:00:12:34:56", Address: "198.18.0.100/24", Gateway: "198.18.0.1"}
	h.Capabilities = nil
	h.Engine = EngineLibvirt
	return h
}

// TestHelloEngine: a foreign Hello's spec is checked as a foreign one
// (api.VMSpec.ValidateForeign), an agent's own guest's in full.
func TestHelloEngine(t *testing.T) {
	decode := func(h Hello) error {
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeHello(b)
		return err
	}
	if err := decode(foreignHello()); err != nil {
		t.Fatalf("foreign hello refused: %v", err)
	}
	for name, edit := range map[string]func(*Hello){
		"no engine, spec without memory and image": func(h *Hello) { h.Engine = "" },
		"unknown engine":         func(h *Hello) { h.Engine = "xen" },
		"foreign spec no nic":    func(h *Hello) { h.Spec.MAC, h.Spec.Address, h.Spec.Gateway = "", "", "" },
		"foreign nic no address": func(h *Hello) { h.Spec.Address, h.Spec.Gateway = "", "" },
		"foreign bad name":       func(h *Hello) { h.Spec.Name, h.Request.VM = "FW1", "FW1" },
		"foreign vm mismatch":    func(h *Hello) { h.Request.VM = "fw2" },
	} {
		h := foreignHello()
		edit(&h)
		if err := decode(h); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", name, err)
		}
	}
	// A full spec passes either way.
	h := testHello()
	h.Engine = EngineLibvirt
	if err := decode(h); err != nil {
		t.Errorf("foreign hello with a full spec refused: %v", err)
	}
}

// TestReadyEngineURI: Ready's engine URI is bounded and has no control
// characters (it ends up in the source engine's calls and logs).
func TestReadyEngineURI(t *testing.T) {
	long := "qemu+tls://h/" + strings.Repeat("a", maxEngineURI-len("qemu+tls://h/"))
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"", true},
		{"qemu+tls://hostB/system", true},
		{"qemu+tls://[2001:db8::2]:16514/system?no_verify=0", true},
		{"qemu+tls://hôte/system", true},
		{long, true},
		{long + "a", false},
		{"qemu+tls://hostB/system\n", false},
		{"qemu+tls://hostB/system\r\nX: y", false},
		{"qemu+tls://hostB/\x00system", false},
		{"qemu+tls://hostB/\x1bsystem", false},
		{"qemu+tls://hostB/\x7fsystem", false},
		{"qemu+tls://hostB/\u0085system", false}, // C1 control
	} {
		// JSON escapes the control characters: the check is the decoder's.
		body, err := json.Marshal(map[string]any{"pid": 0, "engine_uri": tc.uri})
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeMessage(MsgReady, body)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrBadMessage) {
			t.Errorf("%.60q (%d bytes): err %v, want ok %v", tc.uri, len(tc.uri), err, tc.ok)
			continue
		}
		if err == nil && m.(Ready).EngineURI != tc.uri {
			t.Errorf("%.60q decoded as %.60q", tc.uri, m.(Ready).EngineURI)
		}
		// And through a frame: what is refused is refused on reading.
		var b bytes.Buffer
		if err := WriteMessage(&b, Ready{EngineURI: tc.uri}); err != nil {
			t.Fatalf("writing %.60q: %v", tc.uri, err)
		}
		got, err := ReadMessage(&b)
		if (err == nil) != tc.ok || err == nil && got.(Ready).EngineURI != tc.uri {
			t.Errorf("frame of %.60q: read %+v, %v; want ok %v", tc.uri, got, err, tc.ok)
		}
	}
}

func FuzzDecodeHello(f *testing.F) {
	good, _ := json.Marshal(testHello())
	f.Add(good)
	foreign, _ := json.Marshal(foreignHello())
	f.Add(foreign)
	f.Add([]byte(`{"id":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHello(b)
		if err != nil {
			return
		}
		// What decodes must re-encode and decode to the same.
		again, _ := json.Marshal(h)
		if _, err := DecodeHello(again); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}

func FuzzDecodeAbort(f *testing.F) {
	f.Add([]byte(`{"reason":"no"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeAbort(b); err == nil && (a.Reason == "" || len(a.Reason) > MaxReason) {
			t.Fatalf("accepted %q", a.Reason)
		}
	})
}

func FuzzDecodeStatusRequest(f *testing.F) {
	f.Add([]byte(`{"id":"hostA-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) { DecodeStatusRequest(b) })
}

func FuzzDecodeStatusReply(f *testing.F) {
	f.Add([]byte(`{"id":"hostA-1","state":"running"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeStatusReply(b); err == nil && r.State == "" {
			t.Fatal("empty state accepted")
		}
	})
}

func FuzzDecodeRecover(f *testing.F) {
	f.Add([]byte(`{"id":"hostA-1","attempt":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeRecover(b); err == nil && (r.Attempt < 1 || ValidSession(r.ID) != nil) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func TestRecoverRefused(t *testing.T) {
	for _, in := range []string{`{"id":"hostA-1"}`, `{"id":"hostA-1","attempt":0}`, `{"id":"a b","attempt":1}`,
		`{"id":"hostA-1","attempt":1,"x":1}`, `{"id":"hostA-1","attempt":100000}`} {
		if _, err := DecodeRecover([]byte(in)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", in, err)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(uint8(MsgCommit), []byte(`{}`))
	f.Add(uint8(MsgReady), []byte(`{"pid":1}`))
	f.Add(uint8(MsgReady), []byte(`{"pid":0,"engine_uri":"qemu+tls://hostB/system"}`))
	f.Add(uint8(MsgReady), []byte(`{"pid":0,"engine_uri":"a\u0000b"}`))
	f.Add(uint8(MsgRunning), []byte(`{}`))
	f.Add(uint8(MsgHandoffDone), []byte(`{"stats":{"held":1,"dropped":{"ring_full":2}}}`))
	f.Add(uint8(MsgRecover), []byte(`{"id":"hostA-1","attempt":3}`))
	f.Add(uint8(MsgRecoverReady), []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) { DecodeMessage(typ, b) })
}

func TestRunningStartingInRange(t *testing.T) {
	for body, ok := range map[string]bool{`{}`: true, `{"starting":"12ms"}`: true, `{"starting":"-1ms"}`: false, `{"starting":"48h"}`: false,
		`{"starting":"3ms","since":"2ms"}`: true, `{"since":"-2ms"}`: false} {
		_, err := DecodeMessage(MsgRunning, []byte(body))
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok %v", body, err, ok)
		}
	}
}
