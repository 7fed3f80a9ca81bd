package session

import (
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestPauseParts(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(n int) api.Duration { return api.Duration(time.Duration(n) * time.Millisecond) }
	for name, tc := range map[string]struct {
		c        pauseClock
		end      time.Time
		starting time.Duration
		want     api.PauseParts
	}{
		"every mark": {pauseClock{stopped: t0, switchover: at(20), continued: at(22), done: at(30)}, at(45), 10 * time.Millisecond,
			api.PauseParts{FinalPass: ms(20), Handoff: ms(2), Completion: ms(8), Destination: ms(10), Messages: ms(5)}},
		"no pre-switchover seen": {pauseClock{stopped: t0, done: at(30)}, at(45), 10 * time.Millisecond,
			api.PauseParts{Completion: ms(30), Destination: ms(10), Messages: ms(5)}},
		"destination claims more than it could": {pauseClock{stopped: t0, switchover: at(20), continued: at(22), done: at(30)}, at(45), time.Second,
			api.PauseParts{FinalPass: ms(20), Handoff: ms(2), Completion: ms(8), Destination: ms(15)}},
	} {
		if got := tc.c.parts(tc.end, tc.starting); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
	var c pauseClock
	c.mark(&c.switchover, at(1))
	if !c.switchover.IsZero() {
		t.Error("a mark before the stop was kept")
	}
}
