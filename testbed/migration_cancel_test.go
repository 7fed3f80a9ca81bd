package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// slowMigration is a migration of fw1 to hostB that lasts long enough to
// be cancelled in pre-copy: 2 MiB/s for over 100 MiB of pages.
var slowMigration = api.MigrateRequest{VM: "fw1", To: "hostB", Bandwidth: 2 << 20, InitialBandwidth: 2 << 20}

// inPrecopy waits until hostA's migration of fw1 is in pre-copy with some
// memory sent, and returns it.
func inPrecopy(ctx context.Context, t *testing.T, env Env) api.Migration {
	t.Helper()
	c := api.NewClient(env.Socket("hostA"))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		list, err := c.ListMigrations(ctx)
		for _, m := range list {
			if m.VM != "fw1" || m.Role != "source" || api.Ended(m.State) {
				continue
			}
			if m.State == api.MigrationActive && m.Progress.Transferred > 4<<20 {
				return m
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no migration of fw1 in pre-copy on hostA: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cancelledCleanly checks the end of a migration cancelled in pre-copy:
// the record says cancelled, the guest runs exactly once on hostA, same
// boot, memory intact, and hostB has nothing of it.
func cancelledCleanly(ctx context.Context, t *testing.T, env Env, m api.Migration, before api.GuestStatus, tap string) api.GuestStatus {
	t.Helper()
	if m.State != api.MigrationCancelled || m.Reason == "" {
		t.Fatalf("%s: %s (%q), want cancelled with a reason", m.ID, m.State, m.Reason)
	}
	t.Logf("%s: %s: %s", m.ID, m.State, m.Reason)
	got := settled(ctx, t, env, "hostA", 1)
	sameGuest(t, before, got)
	leftClean(ctx, t, env, "hostB", tap, m.ID, "cancelled by request")
	return got
}

// TestIntegrationMigrationCancel cancels a slow migration in pre-copy, once
// through the API (Client.CancelMigration) and once by interrupting
// `netctl migrate` with SIGINT: each time the record says cancelled, the
// guest keeps running exactly once on the source, same boot, memory
// intact, and the destination has no QEMU, tap or VM of it.
func TestIntegrationMigrationCancel(t *testing.T) {
	env := requireTestbed(t)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	last := startGuest(ctx, t, env, "hostA", "--wss", "32", "--dirty-rate", "1")
	c := api.NewClient(env.Socket("hostA"))
	vm, err := c.GetVM(ctx, "fw1")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("api", func(t *testing.T) {
		m, err := c.Migrate(ctx, slowMigration)
		if err != nil {
			t.Fatal(err)
		}
		cur := inPrecopy(ctx, t, env)
		if cur.ID != m.ID {
			t.Fatalf("migration in pre-copy is %s, want %s", cur.ID, m.ID)
		}
		if _, err := c.CancelMigration(ctx, m.ID); err != nil {
			t.Fatalf("cancel %s: %v", m.ID, err)
		}
		last = cancelledCleanly(ctx, t, env, waitMigration(ctx, t, c, m.ID), last, vm.Tap)
	})

	t.Run("netctl interrupted", func(t *testing.T) {
		cmd := exec.Command(filepath.Join(env.BinDir, "netctl"), "--host", "hostA", "-o", "json",
			"migrate", "fw1", "--to", "hostB", "--bandwidth", "2MiB/s", "--initial-bandwidth", "2MiB/s")
		cmd.Env = append(os.Environ(), "NFH_RUN_DIR="+env.RunDir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				<-exited
			}
		})
		m := inPrecopy(ctx, t, env)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		var werr error
		select {
		case werr = <-exited:
		case <-time.After(2 * time.Minute):
			t.Fatalf("netctl still running 2 min after SIGINT; stderr:\n%s", stderr.String())
		}
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("netctl after SIGINT: %v, want exit status 1; stderr:\n%s", werr, stderr.String())
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("netctl's stderr does not say it was interrupted:\n%s", stderr.String())
		}
		var out api.Migration
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.ID != m.ID || out.State != api.MigrationCancelled {
			t.Fatalf("netctl -o json printed %+v (%v), want %s cancelled\n%s", out.ID, err, m.ID, stdout.String())
		}
		rec, err := c.GetMigration(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		cancelledCleanly(ctx, t, env, rec, last, vm.Tap)
	})
}
