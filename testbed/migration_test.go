package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/pki"
	"github.com/nfhandoff/nfhandoff/migrator/transport"
)

// upMigrationTestbed brings up a fresh two-host testbed with agents and
// tears it down at the end. Unlike upTestbed it only counts QEMU processes
// of this testbed (other work on the machine may run QEMU too).
func upMigrationTestbed(t *testing.T, env Env) {
	t.Helper()
	ctx := context.Background()
	if out, err := env.Down(ctx); err != nil {
		t.Fatalf("down before up: %v\n%s", err, out)
	}
	if _, err := env.Up(ctx, 2); err != nil {
		dumpLogs(t, env)
		t.Fatalf("testbed up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("NFH_TEST_LOGS") != "" {
			dumpLogs(t, env)
		}
		recordPauses(t, env)
		if out, err := env.Down(context.Background()); err != nil {
			t.Errorf("testbed down: %v\n%s", err, out)
		}
		if ns, _ := Namespaces(); len(ns) > 0 {
			t.Errorf("namespaces left after down: %v", ns)
		}
		if pids := qemuOf(env, ""); len(pids) > 0 {
			t.Errorf("testbed qemu processes left after down: %v", pids)
		}
		if m, _ := MountsUnder(env.RunDir); len(m) > 0 {
			t.Errorf("mounts left after down: %v", m)
		}
	})
}

// qemuOf lists the live QEMU processes of this testbed (their command line
// names the run dir) running guest vm ("" for any).
func qemuOf(env Env, vm string) []int {
	pids, _ := QEMUProcesses()
	var out []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if !strings.Contains(cmd, env.RunDir+"/") {
			continue
		}
		if vm == "" || strings.Contains(cmd, "guest="+vm+",") || strings.Contains(cmd, "guest="+vm+" ") {
			out = append(out, pid)
		}
	}
	return out
}

// migrate starts a migration at req's source and waits for it to end.
func migrate(ctx context.Context, t *testing.T, env Env, from string, req api.MigrateRequest) api.Migration {
	t.Helper()
	c := api.NewClient(env.Socket(from))
	m, err := c.Migrate(ctx, req)
	if err != nil {
		t.Fatalf("migrate %s %s→%s: %v", req.VM, from, req.To, err)
	}
	return waitMigration(ctx, t, c, m.ID)
}

func waitMigration(ctx context.Context, t *testing.T, c *api.Client, id string) api.Migration {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	for {
		m, err := c.GetMigration(ctx, id)
		if err == nil && api.Ended(m.State) {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("migration %s did not end: last %+v, %v", id, m, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// guestOn checks that vm runs on host, answers echo and TWAMP-light from
// the client namespace and reports no integrity error; it returns the
// guest's status.
func guestOn(ctx context.Context, t *testing.T, env Env, host, vm string) api.GuestStatus {
	t.Helper()
	echo(t, 3)
	twampLight(t, 3)
	// The agent's status query to the guest is one UDP exchange with a
	// short timeout; a guest that has just moved under TCG may miss it.
	var st api.VMStatus
	for try := 0; ; try++ {
		s, err := api.NewClient(env.Socket(host)).VMStatus(ctx, vm)
		if err != nil {
			t.Fatalf("%s on %s: %v", vm, host, err)
		}
		st = s
		if st.Guest != nil || try == 4 {
			break
		}
		t.Logf("%s on %s: guest status: %s; asking again", vm, host, st.GuestError)
		time.Sleep(time.Second)
	}
	if st.State != api.StateRunning || st.QEMUStatus != "running" || st.Guest == nil {
		t.Fatalf("%s on %s: state %q qemu %q guest error %q", vm, host, st.State, st.QEMUStatus, st.GuestError)
	}
	if n := st.Guest.IntegrityErrors(); n != 0 {
		t.Fatalf("%s on %s: %d integrity errors (%d corrupt, %d stale pages)", vm, host, n, st.Guest.CorruptPages, st.Guest.StalePages)
	}
	if pids := qemuOf(env, vm); len(pids) != 1 {
		t.Fatalf("%s: %d QEMU processes across the hosts (%v), want exactly one", vm, len(pids), pids)
	}
	return *st.Guest
}

func absentFrom(ctx context.Context, t *testing.T, env Env, host, vm string) {
	t.Helper()
	if _, err := api.NewClient(env.Socket(host)).GetVM(ctx, vm); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("%s still on %s after it left: %v", vm, host, err)
	}
}

// TestIntegrationMigration moves a VNF guest hostA→hostB→hostA: after each
// move its memory is intact, it is the same boot, its reflector sequence
// continues, it answers at the new host, exactly one QEMU runs it and both
// agents record the migration as completed. Then the destination agent is
// killed during pre-copy: the guest keeps running once on the source and
// the destination is left clean.
//
// The vnf first writes freedMiB and frees it: free page reporting (the
// guest's virtio-balloon) must make it travel as zero pages, so QEMU's
// normal (content) pages of each move stay under what that memory alone
// would have been plus the working set.
func TestIntegrationMigration(t *testing.T) {
	env := requireTestbed(t)
	upMigrationTestbed(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	const wssMiB, freedMiB = 32, 128
	if _, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "start", "fw1",
		"--ip", guestAddr, "--gw", gateway, "--mem", "320", "--", "--wss", strconv.Itoa(wssMiB), "--dirty-rate", "1",
		"--freed-mib", strconv.Itoa(freedMiB)); err != nil {
		t.Fatalf("vm start: %v", err)
	}
	first := guestOn(ctx, t, env, "hostA", "fw1")
	// The vnf answers while it still writes the memory it then frees (a
	// busy machine took seconds for it, and the move sent it as content);
	// it writes its working set after that, so one verify pass of the set
	// means the memory is free.
	for first.VerifyPasses == 0 {
		if ctx.Err() != nil {
			t.Fatalf("fw1 never finished a verify pass: its freed memory may not be free yet: %v", ctx.Err())
		}
		time.Sleep(250 * time.Millisecond)
		first = guestOn(ctx, t, env, "hostA", "fw1")
	}
	last := first
	// The guest's kernel reports free memory 2 s after it was freed
	// (mm/page_reporting.c's delay), then QEMU discards it.
	time.Sleep(4 * time.Second)

	for i, hop := range [][2]string{{"hostA", "hostB"}, {"hostB", "hostA"}} {
		from, to := hop[0], hop[1]
		m := migrate(ctx, t, env, from, api.MigrateRequest{VM: "fw1", To: to})
		if m.State != api.MigrationCompleted {
			t.Fatalf("hop %d %s→%s: %s: %s", i+1, from, to, m.State, m.Reason)
		}
		t.Logf("hop %d %s→%s: total %v, downtime %v, %d wire bytes, phases %d; %d normal pages, %d zero pages", i+1, from, to,
			m.TotalTime, m.QEMUDowntime, m.WireBytes, len(m.Phases), m.RAM.Normal, m.RAM.Duplicate)
		if normal, most := m.RAM.Normal*4096, uint64(wssMiB+freedMiB)<<20; normal >= most {
			t.Fatalf("hop %d: %d MiB of normal pages, want under %d MiB: the %d MiB the guest freed went as content, not as zero pages",
				i+1, normal>>20, most>>20, freedMiB)
		}
		got := guestOn(ctx, t, env, to, "fw1")
		absentFrom(ctx, t, env, from, "fw1")
		if got.BootID != first.BootID {
			t.Fatalf("hop %d: boot id %s, want %s (the guest rebooted)", i+1, got.BootID, first.BootID)
		}
		if got.ReflectorSeq < last.ReflectorSeq+3 {
			t.Fatalf("hop %d: reflector sequence %d after %d: it did not continue", i+1, got.ReflectorSeq, last.ReflectorSeq)
		}
		last = got
		dm, err := api.NewClient(env.Socket(to)).GetMigration(ctx, m.ID)
		if err != nil || dm.State != api.MigrationCompleted || dm.Role != "destination" {
			t.Fatalf("hop %d: destination record %+v, %v", i+1, dm, err)
		}
	}

	t.Run("destination agent killed during pre-copy", func(t *testing.T) {
		c := api.NewClient(env.Socket("hostA"))
		// 2 MiB/s: the guest's ~110 MiB of content takes long enough to kill hostB's agent.
		m, err := c.Migrate(ctx, api.MigrateRequest{VM: "fw1", To: "hostB", Bandwidth: 2 << 20, InitialBandwidth: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for {
			cur, err := c.GetMigration(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cur.State == api.MigrationActive && cur.Progress.Transferred > 4<<20 {
				break
			}
			if api.Ended(cur.State) {
				t.Fatalf("migration ended before the kill: %s %s", cur.State, cur.Reason)
			}
			time.Sleep(100 * time.Millisecond)
		}
		killPidFile(t, filepath.Join(env.RunDir, "hostB", "migratord.pid"))
		end := waitMigration(ctx, t, c, m.ID)
		if end.State != api.MigrationFailed || end.Reason == "" {
			t.Fatalf("record %s (%q), want failed with a reason", end.State, end.Reason)
		}
		t.Logf("source record: %s: %s", end.State, end.Reason)
		got := guestOn(ctx, t, env, "hostA", "fw1")
		if got.BootID != first.BootID {
			t.Fatalf("boot id %s, want %s", got.BootID, first.BootID)
		}
		// The destination's agent comes back and reconciles: no QEMU, no
		// tap, the record failed.
		if _, err := env.Up(ctx, 2); err != nil {
			t.Fatalf("restarting hostB's agent: %v", err)
		}
		dm, err := api.NewClient(env.Socket("hostB")).GetMigration(ctx, m.ID)
		if err != nil || dm.State != api.MigrationFailed {
			t.Fatalf("destination record after restart: %+v, %v", dm, err)
		}
		if _, err := api.NewClient(env.Socket("hostB")).GetVM(ctx, "fw1"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("hostB still has fw1: %v", err)
		}
		vm, err := c.GetVM(ctx, "fw1")
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("ip", "-n", "nfh-hostB", "link", "show", vm.Tap).Run(); err == nil {
			t.Errorf("tap %s left on hostB", vm.Tap)
		}
		guestOn(ctx, t, env, "hostA", "fw1")
	})

	t.Run("certificate from another CA is refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := pki.NewCA(dir, "rogue CA", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := pki.Issue(dir, "hostA", nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		id, err := pki.LoadIdentity(filepath.Join(dir, pki.CAFile), filepath.Join(dir, pki.CertFile("hostA")), filepath.Join(dir, pki.KeyFile("hostA")))
		if err != nil {
			t.Fatal(err)
		}
		peers := filepath.Join(dir, "peers")
		os.WriteFile(peers, []byte("hostB 198.18.0.12:7443\n"), 0o644)
		real, err := pki.LoadIdentity(filepath.Join(env.RunDir, "pki", "ca.pem"),
			filepath.Join(env.RunDir, "pki", "hostA.pem"), filepath.Join(env.RunDir, "pki", "hostA-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		// Both ways: hostB refuses a client certificate from the rogue CA
		// (while we trust hostB), and a dialer trusting only the rogue CA
		// refuses hostB.
		cases := []struct {
			name string
			id   *pki.Identity
			want string
		}{
			{"hostB refuses ours", &pki.Identity{Name: "hostA", Cert: id.Cert, CA: real.CA}, "refused our certificate"},
			{"we refuse hostB's", id, "presented a certificate we refuse"},
		}
		for _, c := range cases {
			var node *transport.Node
			err = InNetns("nfh-client", func() error {
				var err error
				node, err = transport.New(transport.Config{Identity: c.id, Peers: peers})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
			_, err = node.Dial(dctx, "hostB")
			dcancel()
			node.Close()
			if !errors.Is(err, transport.ErrPeerAuth) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s: dial: %v, want ErrPeerAuth saying %q", c.name, err, c.want)
			}
			t.Logf("%s: %v", c.name, err)
		}
	})
}
