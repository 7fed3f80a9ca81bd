package session

import (
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

func TestPauseParts(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(n int) api.Duration { return api.Duration(time.Duration(n) * time.Millisecond) }
	for name, tc := range map[string]struct {
		c    pauseClock
		end  time.Time
		run  wire.Running
		want api.PauseParts
	}{
		"every mark": {pauseClock{stopped: t0, switchover: at(20), continued: at(22), done: at(30)}, at(45), wire.Running{Starting: ms(10)},
			api.PauseParts{FinalPass: ms(20), Handoff: ms(2), Completion: ms(8), Destination: ms(10), Messages: ms(5)}},
		"no pre-switchover seen": {pauseClock{stopped: t0, done: at(30)}, at(45), wire.Running{Starting: ms(10)},
			api.PauseParts{Completion: ms(30), Destination: ms(10), Messages: ms(5)}},
		"destination claims more than it could": {pauseClock{stopped: t0, switchover: at(20), continued: at(22), done: at(30)}, at(45), wire.Running{Starting: api.Duration(time.Second), Ready: ms(900)},
			api.PauseParts{FinalPass: ms(20), Handoff: ms(2), Completion: ms(8), Destination: ms(15), DestinationReady: ms(15)}},
		"post-copy: the destination's own parts": {pauseClock{stopped: t0, switchover: at(4), continued: at(7), done: at(10)}, at(100),
			wire.Running{Starting: ms(85), Ready: ms(83), Listening: ms(68)},
			api.PauseParts{FinalPass: ms(4), Handoff: ms(3), Completion: ms(3), Destination: ms(85), Messages: ms(5),
				DestinationReady: ms(83), DestinationListening: ms(68)}},
		"a test's knob held the guest": {pauseClock{stopped: t0, switchover: at(5), continued: at(1510), done: at(1520), held: 1500 * time.Millisecond}, at(1530),
			wire.Running{Starting: ms(5)},
			api.PauseParts{FinalPass: ms(5), Handoff: ms(1505), Completion: ms(10), Destination: ms(5), Messages: ms(5), DebugHeld: ms(1500)}},
	} {
		if got := tc.c.parts(tc.end, tc.run); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
	var c pauseClock
	if got, want := (api.PauseParts{Destination: ms(85), DestinationReady: ms(83), DestinationListening: ms(68)}).String(),
		"destination 85ms (post-copy active after 68ms: in-flight pages and QEMU's discards; devices 15ms; cont 2ms)"; !strings.Contains(got, want) {
		t.Errorf("String() = %q, want it to contain %q", got, want)
	}
	if got, want := (api.PauseParts{Handoff: ms(1505), DebugHeld: ms(1500)}).String(),
		"hand-off 1.505s (1.5s of it held by --debug-switchover-delay)"; !strings.Contains(got, want) {
		t.Errorf("String() = %q, want it to contain %q", got, want)
	}
	c.mark(&c.switchover, at(1))
	if !c.switchover.IsZero() {
		t.Error("a mark before the stop was kept")
	}
}
