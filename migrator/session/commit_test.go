package session

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// A source whose agent cannot store the commit does not commit: the
// destination is never told to run the guest (it aborts, its QEMU
// stopped, never resumed), the guest resumes here, and the record fails,
// not committed, saying why.
func TestCommitNotStoredRollsBack(t *testing.T) {
	p := newPair(t)
	src := newFakeQEMU(t, "source")
	cfg := p.sourceConfig(src)
	var asked []api.Migration
	cfg.Commit = func(m api.Migration) error {
		asked = append(asked, m)
		return errors.New("storing migration hostA-1: disk full")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, out := RunSource(ctx, cfg)
	if out != Stayed || m.State != api.MigrationFailed || m.Committed || !strings.Contains(m.Reason, "disk full") {
		t.Fatalf("outcome %v state %s committed %v reason %q: want stayed, failed, not committed, saying why",
			out, m.State, m.Committed, m.Reason)
	}
	if len(asked) != 1 || !asked[0].Committed {
		t.Fatalf("Commit got %+v: want one record, committed", asked)
	}
	index(t, src.commands(), qmpcmd.Cont)
	waitFor(t, "destination failed", func() bool { return p.agent.record("hostA-1").State == api.MigrationFailed })
	dst := p.agent.guest()
	index(t, dst.commands(), "(stop)")
	if slices.Contains(dst.commands(), qmpcmd.Cont) || len(p.agent.adopted) != 0 {
		t.Fatalf("the destination ran the guest: %q, adopted %v", dst.commands(), p.agent.adopted)
	}
}
