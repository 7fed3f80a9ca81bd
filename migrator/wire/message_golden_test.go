package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// TestMessageFramesGolden pins the bytes of each message's frame: the type
// byte and the JSON field names are the protocol between agents of
// different builds.
func TestMessageFramesGolden(t *testing.T) {
	for _, tc := range []struct {
		msg  any
		typ  uint8
		body string
	}{
		{Ready{PID: 42}, 2, `{"pid":42}`},
		{Ready{EngineURI: "qemu+tls://hostB/system"}, 2, `{"pid":0,"engine_uri":"qemu+tls://hostB/system"}`},
		{Commit{}, 3, `{}`},
		{Running{}, 4, `{}`},
		{Running{Starting: api.Duration(3 * time.Millisecond)}, 4, `{"starting":"3ms"}`},
		{Abort{Reason: "no"}, 5, `{"reason":"no"}`},
		{StatusRequest{ID: "hostA-1"}, 6, `{"id":"hostA-1"}`},
		{StatusReply{ID: "hostA-1", State: StatusFailed, Reason: "gone"}, 7, `{"id":"hostA-1","state":"failed","reason":"gone"}`},
		{StatusReply{ID: "hostA-1", State: StatusPending}, 7, `{"id":"hostA-1","state":"pending"}`},
		{HandoffDone{Stats: api.HandoffStats{Held: 1}}, 8, ""},
		{Recover{ID: "hostA-1", Attempt: 2}, 9, `{"id":"hostA-1","attempt":2}`},
		{RecoverReady{}, 10, `{}`},
		{Hello{ID: "hostA-1", Source: "hostA", Capabilities: map[string]bool{"events": true}, MultifdChannels: 0}, 1, ""},
	} {
		var b bytes.Buffer
		if err := WriteMessage(&b, tc.msg); err != nil {
			t.Fatalf("%T: %v", tc.msg, err)
		}
		raw := b.Bytes()
		if n := binary.BigEndian.Uint32(raw); int(n) != len(raw)-5 || raw[4] != tc.typ {
			t.Errorf("%T: length %d type %d, want %d type %d", tc.msg, n, raw[4], len(raw)-5, tc.typ)
		}
		if tc.body != "" && string(raw[5:]) != tc.body {
			t.Errorf("%T: body %s, want %s", tc.msg, raw[5:], tc.body)
		}
	}
	// Hello's engine: named "engine", and absent for the agents' own
	// guests, whose Hello reads as it did before engines.
	for _, tc := range []struct {
		h    Hello
		want string
		has  bool
	}{{foreignHello(), `"engine":"libvirt"`, true}, {testHello(), `"engine"`, false}} {
		var b bytes.Buffer
		if err := WriteMessage(&b, tc.h); err != nil {
			t.Fatal(err)
		}
		if raw := b.Bytes(); raw[4] != 1 || bytes.Contains(raw[5:], []byte(tc.want)) != tc.has {
			t.Errorf("hello with engine %q: type %d body %s: want %s present %v", tc.h.Engine, raw[4], raw[5:], tc.want, tc.has)
		}
	}
	var b bytes.Buffer
	if err := WriteMessage(&b, struct{}{}); err == nil {
		t.Error("a struct that is no message was written")
	}
}
