package session

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// A migration that fails after QEMU's bytes went to the destination
// records what its connection carried, whichever way it ends: a rollback
// (the connection lost in BUFFER), a post-copy that failed, or a
// destination that aborted after Commit (resolved failed).
func TestWireBytesOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, p *pair, src *fakeQEMU, cfg *SourceConfig)
		out   Outcome
	}{
		{"rollback", func(t *testing.T, p *pair, src *fakeQEMU, cfg *SourceConfig) {
			src.noResume = true
			cfg.Debug.SwitchoverDelay = 30 * time.Second
			go func() {
				waitFor(t, "switchover", func() bool { return slices.Contains(p.callList(), "src.Switchover") })
				p.conn(t).CloseWithError(1, "test: destination killed")
			}()
		}, Stayed},
		{"post-copy failed", func(t *testing.T, p *pair, src *fakeQEMU, cfg *SourceConfig) {
			src.trace = p.hA.trace()
			p.agent.trace = p.hB.trace()
			postcopy(p, src, true)
		}, Lost},
		{"destination aborted after commit", func(t *testing.T, p *pair, src *fakeQEMU, cfg *SourceConfig) {
			p.agent.onCont = func() error { return errTest }
		}, Stayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t)
			src := newFakeQEMU(t, "source")
			cfg := p.sourceConfig(src)
			tc.setup(t, p, src, &cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			m, out := RunSource(ctx, cfg)
			waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
			if out != tc.out || m.State != api.MigrationFailed {
				t.Fatalf("outcome %v state %s reason %q, want %v and failed", out, m.State, m.Reason, tc.out)
			}
			if c := m.Codec; c == nil || c.QEMUBytes == 0 {
				t.Fatalf("codec account %+v: want QEMU's bytes coded", c)
			}
			if m.WireBytes < uint64(m.Codec.LinkBytes) {
				t.Errorf("wire bytes %d, want at least the %d the page coders sent", m.WireBytes, m.Codec.LinkBytes)
			}
		})
	}
}
