package testbed

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// TestIntegrationCodec moves a guest hostA→hostB with page coding (the
// default, --codec auto) and back with --codec none, under TWAMP-light at
// 1000 pps: both moves lose, duplicate and reorder nothing and leave the
// guest's memory intact (the vnf's per-page checks), so the destination
// QEMU got exactly the stream its source wrote. The coded move's record
// accounts for every page and sent fewer bytes than QEMU wrote; the
// uncoded one has no coder's account.
func TestIntegrationCodec(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before := startHandoffGuest(ctx, t, env, "hostA")

	for _, mv := range []struct{ from, to, codec string }{{"hostA", "hostB", api.CodecAuto}, {"hostB", "hostA", api.CodecNone}} {
		r := migrateVerified(ctx, t, env, mv.from, mv.to, "--codec", mv.codec, "--verify-rate", "1000")
		m, v := r.M, r.V
		t.Logf("%s %s→%s codec %s: %s, lost %d dup %d reordered %d, wire %d bytes; %+v", m.ID, mv.from, mv.to, mv.codec,
			m.State, v.Lost, v.Duplicated, v.Reordered, m.WireBytes, m.Codec)
		if m.State != api.MigrationCompleted || r.Err != nil {
			t.Fatalf("%s: %s (%s), netctl: %v; want completed", m.ID, m.State, m.Reason, r.Err)
		}
		if v.Lost != 0 || v.Duplicated != 0 || v.Reordered != 0 {
			t.Fatalf("%s: lost %d, duplicated %d, reordered %d: want 0", m.ID, v.Lost, v.Duplicated, v.Reordered)
		}
		c := m.Codec
		switch {
		case mv.codec == api.CodecNone && c != nil:
			t.Fatalf("%s: codec none, yet a coder's account %+v", m.ID, c)
		case mv.codec == api.CodecNone:
		case c == nil:
			t.Fatalf("%s: codec auto, no coder's account", m.ID)
		case c.Refused != "":
			t.Fatalf("%s: the stream reader refused QEMU's stream: %s", m.ID, c.Refused)
		case c.Pages == 0 || c.Raw+c.Refs+c.Deltas+c.Lits != c.Pages:
			t.Fatalf("%s: pages %d do not add up: %+v", m.ID, c.Pages, c)
		case c.LinkBytes >= c.QEMUBytes:
			t.Fatalf("%s: %d bytes on the link for %d of QEMU's", m.ID, c.LinkBytes, c.QEMUBytes)
		}
		sameGuest(t, before, guestOn(ctx, t, env, mv.to, "fw1"))
		absentFrom(ctx, t, env, mv.from, "fw1")
	}
}

// TestIntegrationCodecRefused: the source agent alters a coded page after
// naming it (--debug-corrupt-page, as a fault on the way would); the
// destination refuses the page, the migration fails saying so, and the
// guest keeps running on the source, once, its memory intact, its
// traffic whole; the destination is left clean.
func TestIntegrationCodecRefused(t *testing.T) {
	env := requireTestbed(t)
	requireDataplane(t, env)
	env = env.WithAgentArgs("hostA", "--debug-corrupt-page", "200")
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before := startHandoffGuest(ctx, t, env, "hostA")
	vm, err := api.NewClient(env.Socket("hostA")).GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}

	r := migrateVerified(ctx, t, env, "hostA", "hostB", "--codec", "auto", "--verify-rate", "1000", "--max-lost", "-1")
	m, v := r.M, r.V
	t.Logf("%s: %s (%s); lost %d dup %d reordered %d", m.ID, m.State, m.Reason, v.Lost, v.Duplicated, v.Reordered)
	if m.State != api.MigrationFailed || r.Err == nil {
		t.Fatalf("%s: %s, netctl: %v; want failed", m.ID, m.State, r.Err)
	}
	if !strings.Contains(m.Reason, "does not match its name") {
		t.Fatalf("%s: reason %q does not say the page was refused", m.ID, m.Reason)
	}
	if v.Lost != 0 || v.Duplicated != 0 || v.Reordered != 0 {
		t.Fatalf("%s: lost %d, duplicated %d, reordered %d: want 0", m.ID, v.Lost, v.Duplicated, v.Reordered)
	}
	sameGuest(t, before, guestOn(ctx, t, env, "hostA", "fw1"))
	leftClean(ctx, t, env, "hostB", vm.Tap, m.ID, "does not match its name")
}
