package wire

import (
	"bytes"
	"encoding/json"
	"errors"
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

func FuzzDecodeHello(f *testing.F) {
	good, _ := json.Marshal(testHello())
	f.Add(good)
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
