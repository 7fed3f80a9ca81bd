package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func testHandoffDone() HandoffDone {
	return HandoffDone{Stats: api.HandoffStats{Held: 4, Released: 4, Flushed: 31, ForwardedIn: 2, GARPs: 5,
		HighWaterBytes: 1 << 16, Dropped: map[string]uint64{"tap_full": 0},
		Modes: map[string]api.Duration{"hold": api.Duration(30 * time.Millisecond)}}}
}

func TestHandoffDoneRoundTrip(t *testing.T) {
	var b bytes.Buffer
	want := testHandoffDone()
	if err := WriteMessage(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMessage(&b)
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if _, ok := got.(HandoffDone); !ok || !bytes.Equal(gj, wj) {
		t.Fatalf("got %T %s, want %s", got, gj, wj)
	}
}

func TestDecodeHandoffDoneStrict(t *testing.T) {
	bad := map[string]string{
		"unknown field":  `{"stats":{},"x":1}`,
		"unknown stat":   `{"stats":{"lost":1}}`,
		"reason":         `{"stats":{"dropped":{"Ring Full":1}}}`,
		"negative mode":  `{"stats":{"modes":{"hold":"-1s"}}}`,
		"negative garps": `{"stats":{"garps":-1}}`,
		"trailing":       `{"stats":{}} {}`,
		"negative count": `{"stats":{"held":-1}}`,
	}
	for name, in := range bad {
		if _, err := DecodeHandoffDone([]byte(in)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: %v, want ErrBadMessage", name, err)
		}
	}
	many := api.HandoffStats{Dropped: map[string]uint64{}}
	for i := range maxStatKeys + 1 {
		many.Dropped[string(rune('a'+i%26))+string(rune('a'+i/26))] = 1
	}
	b, _ := json.Marshal(HandoffDone{Stats: many})
	if _, err := DecodeHandoffDone(b); !errors.Is(err, ErrBadMessage) {
		t.Errorf("%d drop reasons: %v, want ErrBadMessage", len(many.Dropped), err)
	}
}

func FuzzDecodeHandoffDone(f *testing.F) {
	good, _ := json.Marshal(testHandoffDone())
	f.Add(good)
	f.Add([]byte(`{"stats":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHandoffDone(b)
		if err != nil {
			return
		}
		if len(h.Stats.Dropped) > maxStatKeys || len(h.Stats.Modes) > maxStatKeys || h.Stats.GARPs < 0 {
			t.Fatalf("accepted %+v", h.Stats)
		}
		again, _ := json.Marshal(h)
		if _, err := DecodeHandoffDone(again); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
	})
}
