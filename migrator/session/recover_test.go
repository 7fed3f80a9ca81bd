package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wire"
)

// A Recover for a session with no post-copy under way here, or one that
// names another session than its stream, is refused with a reason: the
// source tries again later or gives up, the destination touches nothing.
func TestRecoverWithoutPostcopyRefused(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := FromTransport(p.conn(t))
	for _, tc := range []struct {
		stream string
		msg    wire.Recover
		want   string
	}{
		{"hostA-9", wire.Recover{ID: "hostA-9", Attempt: 1}, "no post-copy of session hostA-9"},
		{"hostA-8", wire.Recover{ID: "hostA-9", Attempt: 1}, "on a stream of session hostA-8"},
	} {
		st, err := c.OpenStream(ctx, wire.StreamHeader{Kind: wire.KindControl, Session: tc.stream})
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.WriteMessage(st, tc.msg); err != nil {
			t.Fatal(err)
		}
		m, err := wire.ReadMessage(st)
		if a, ok := m.(wire.Abort); err != nil || !ok || !strings.Contains(a.Reason, tc.want) {
			t.Errorf("recover %+v on %s: answer %#v, %v; want an abort saying %q", tc.msg, tc.stream, m, err, tc.want)
		}
		st.Close()
	}
}
