package testbed

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

const (
	guestIP   = "198.18.0.100"
	guestAddr = guestIP + "/24"
	gateway   = "198.18.0.1"
)

// requireTestbed skips under -short or without root; with CI set, missing
// parts fail the test instead: a skipped tier must not make CI green.
func requireTestbed(t *testing.T) Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	privtest.RequireRoot(t)
	env, err := FindEnv()
	if err != nil {
		t.Fatal(err)
	}
	if miss := env.Missing(); len(miss) > 0 {
		privtest.Unavailable(t, "integration test needs `make build image`; missing: %s", strings.Join(miss, ", "))
	}
	return env
}

// upTestbed brings a fresh testbed up and tears it down at the end, checking
// that nothing of ours is left.
func upTestbed(t *testing.T, env Env, hosts int) {
	t.Helper()
	ctx := context.Background()
	if out, err := env.Down(ctx); err != nil {
		t.Fatalf("down before up: %v\n%s", err, out)
	}
	out, err := env.Up(ctx, hosts)
	if err != nil {
		dumpLogs(t, env)
		t.Fatalf("testbed up: %v", err)
	}
	t.Logf("testbed up:\n%s", out)
	t.Cleanup(func() {
		if logsWanted(t) {
			dumpLogs(t, env)
		}
		downLeavesNothing(t, env)
		if pids, _ := QEMUProcesses(); len(pids) > 0 {
			t.Errorf("qemu processes left after down: %v", pids)
		}
		if m, _ := MountsUnder(env.RunDir); len(m) > 0 {
			t.Errorf("mounts left after down: %v", m)
		}
	})
}

// downLeavesNothing takes the testbed down and checks that no namespace
// and no run dir are left.
func downLeavesNothing(t *testing.T, env Env) {
	t.Helper()
	recordPauses(t, env)
	out, err := env.Down(context.Background())
	if err != nil {
		t.Errorf("testbed down: %v", err)
	}
	t.Logf("testbed down:\n%s", out)
	if ns, _ := Namespaces(); len(ns) > 0 {
		t.Errorf("namespaces left after down: %v", ns)
	}
	if _, err := os.Stat(env.RunDir); !os.IsNotExist(err) {
		t.Errorf("run dir %s left after down", env.RunDir)
	}
}

// recordPauses appends the test's completed moves to the pause log, if
// one is asked for (PauseLogEnv), before the testbed goes down.
func recordPauses(t *testing.T, env Env) {
	t.Helper()
	path := os.Getenv(PauseLogEnv)
	if path == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := env.RecordPauses(ctx, t.Name(), path); err != nil {
		t.Logf("pause log: %v", err) // an agent the test killed has nothing to say
	}
}

// logsWanted says whether a test's agents' and guests' logs are kept at
// its end: when it failed, or always with NFH_KEEP_LOGS set.
func logsWanted(t *testing.T) bool { return t.Failed() || os.Getenv("NFH_KEEP_LOGS") != "" }

func dumpLogs(t *testing.T, env Env) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(env.RunDir, "*", "migratord.log"))
	cons, _ := filepath.Glob(filepath.Join(env.RunDir, "*", "state", "vms", "*", "console.log"))
	// Kept as files, not printed: a failing test's own messages must stay
	// the last lines of its output (what a CI summary shows of it).
	dir, err := keepLogs(t.Name(), env.RunDir, append(logs, cons...))
	if err != nil {
		t.Logf("keeping the agents' and guests' logs: %v", err)
	} else {
		t.Logf("the agents' and guests' logs of this test: %s (NFH_TEST_LOGS=1 prints them here)", dir)
	}
	if os.Getenv("NFH_TEST_LOGS") == "" {
		return
	}
	for _, p := range logs {
		// The agents' warnings and errors from every run (the log is
		// appended to across restarts), then the tail.
		b, _ := os.ReadFile(p)
		var warn []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				warn = append(warn, l)
			}
		}
		if len(warn) > 300 {
			warn = warn[len(warn)-300:]
		}
		t.Logf("--- %s: warnings and errors ---\n%s", p, strings.Join(warn, "\n"))
	}
	for _, p := range append(logs, cons...) {
		b, _ := os.ReadFile(p)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Logf("--- %s ---\n%s", p, b)
	}
}

// keepLogs copies files (under runDir) into a new directory for the test
// named name, under $NFH_TEST_LOG_DIR (the system's temporary directory's
// nfh-test-logs by default), keeping their paths below runDir, and returns
// that directory.
func keepLogs(name, runDir string, files []string) (string, error) {
	root := os.Getenv("NFH_TEST_LOG_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "nfh-test-logs")
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(name)+"-"+time.Now().UTC().Format("20060102T150405.000"))
	for _, f := range files {
		rel, err := filepath.Rel(runDir, f)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// TestIntegrationFoundation walks the foundation end to end on the testbed:
// a VNF guest started through netctl answers TWAMP-light and echo from the
// client namespace, survives an agent restart (re-adopted, still answering,
// same boot), is refused cleanly on bad input, and stopping it leaves nothing.
func TestIntegrationFoundation(t *testing.T) {
	env := requireTestbed(t)
	upTestbed(t, env, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	client := api.NewClient(env.Socket("hostA"))

	out, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "start", "fw1",
		"--ip", guestAddr, "--gw", gateway, "--mem", "256", "--", "--wss", "32", "--dirty-rate", "1")
	if err != nil {
		dumpLogs(t, env)
		t.Fatalf("vm start: %v", err)
	}
	t.Logf("netctl vm start:\n%s", out)

	first := guestAnswers(ctx, t, env, 5)
	if first.IntegrityErrors() != 0 {
		t.Fatalf("fresh guest reports %d integrity errors", first.IntegrityErrors())
	}

	t.Run("agent restart re-adopts the guest", func(t *testing.T) {
		pidFile := filepath.Join(env.RunDir, "hostA", "migratord.pid")
		killPidFile(t, pidFile)
		// The guest keeps running without its agent.
		echo(t, 3)
		if _, err := env.Up(ctx, 2); err != nil {
			t.Fatalf("restarting agents: %v", err)
		}
		vm, err := client.GetVM(ctx, "fw1")
		if err != nil {
			t.Fatalf("get vm after restart: %v", err)
		}
		if vm.State != api.StateRunning || !vm.Adopted {
			t.Fatalf("after restart: state %q adopted %v, want running and adopted", vm.State, vm.Adopted)
		}
		after := guestAnswers(ctx, t, env, 5)
		if after.BootID != first.BootID {
			t.Fatalf("guest rebooted across agent restart: boot id %s -> %s", first.BootID, after.BootID)
		}
		if after.ReflectorSeq < first.ReflectorSeq+5 {
			t.Fatalf("reflector sequence went from %d to %d, want it to continue", first.ReflectorSeq, after.ReflectorSeq)
		}
	})

	t.Run("bad requests are refused and leave nothing", func(t *testing.T) {
		badRequests(ctx, t, env, client)
	})

	t.Run("stop leaves nothing", func(t *testing.T) {
		vm, err := client.GetVM(ctx, "fw1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "stop", "fw1"); err != nil {
			t.Fatal(err)
		}
		if vm.PID > 0 && Alive(vm.PID) {
			t.Errorf("qemu pid %d still alive after stop", vm.PID)
		}
		if err := exec.Command("ip", "-n", "nfh-hostA", "link", "show", vm.Tap).Run(); err == nil {
			t.Errorf("tap %s still exists after stop", vm.Tap)
		}
		if _, err := os.Stat(filepath.Dir(vm.QMPSocket)); !os.IsNotExist(err) {
			t.Errorf("vm dir %s left after stop", filepath.Dir(vm.QMPSocket))
		}
		vms, err := client.ListVMs(ctx)
		if err != nil || len(vms) != 0 {
			t.Errorf("after stop: list %v (err %v), want empty", vms, err)
		}
	})
}

// guestAnswers checks echo and TWAMP-light from the client namespace and the
// status through netctl; it returns the guest's status.
func guestAnswers(ctx context.Context, t *testing.T, env Env, n int) api.GuestStatus {
	t.Helper()
	echo(t, n)
	twampLight(t, n)
	out, _, err := env.Netctl(ctx, "--host", "hostA", "-o", "json", "vm", "status", "fw1")
	if err != nil {
		t.Fatalf("vm status: %v", err)
	}
	var st api.VMStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("vm status -o json: %v\n%s", err, out)
	}
	if st.Guest == nil {
		t.Fatalf("vm status has no guest status: %s", st.GuestError)
	}
	if st.State != api.StateRunning || st.QEMUStatus != "running" {
		t.Fatalf("vm status: state %q qemu %q, want running", st.State, st.QEMUStatus)
	}
	if st.Guest.EchoPackets < uint64(n) || st.Guest.PacketsReflected < uint64(n) {
		t.Fatalf("guest counted echo %d reflected %d, want at least %d each", st.Guest.EchoPackets, st.Guest.PacketsReflected, n)
	}
	// The status port also answers directly from the client namespace.
	err = InNetns("nfh-client", func() error {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := vnfproto.Query(qctx, netip.MustParseAddrPort(guestIP+":"+strconv.Itoa(vnfproto.Port)))
		return err
	})
	if err != nil {
		t.Fatalf("status query from client namespace: %v", err)
	}
	return *st.Guest
}

// udpInClient opens a UDP socket inside the client namespace.
func udpInClient(t *testing.T, port int) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := InNetns("nfh-client", func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(guestIP), Port: port})
		return err
	})
	if err != nil {
		t.Fatalf("udp socket in client namespace: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends req and waits for the reply that match accepts, retrying a
// few times (the first packets may wait for ARP, and a guest that has just
// moved under TCG can be slow). Replies that match does not accept (late
// answers to an earlier request that was retried) are skipped. It returns
// the reply and how many times req was sent.
func exchange(c *net.UDPConn, req []byte, match func([]byte) bool) ([]byte, int, error) {
	buf := make([]byte, 2048)
	for try := 1; try <= 10; try++ {
		if _, err := c.Write(req); err != nil {
			return nil, try, err
		}
		deadline := time.Now().Add(time.Second)
		for {
			c.SetReadDeadline(deadline)
			n, err := c.Read(buf)
			if err == nil {
				if match(buf[:n]) {
					return append([]byte(nil), buf[:n]...), try, nil
				}
				continue // a late reply to an earlier request
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return nil, try, err
			}
			break
		}
	}
	return nil, 10, fmt.Errorf("no answer after 10 tries")
}

func echo(t *testing.T, n int) {
	t.Helper()
	c := udpInClient(t, 7)
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("nfhandoff echo %d %d", i, time.Now().UnixNano()))
		if _, _, err := exchange(c, msg, func(b []byte) bool { return bytes.Equal(b, msg) }); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
}

// twampLight sends n unauthenticated TWAMP-light test packets and checks the
// reflected packets at RFC 5357 section 4.2.1's offsets: reflector sequence
// (0), sender sequence (24), sender timestamp (28), sender TTL (40). The
// reflector's own sequence must go up by one per packet it reflected: by
// one per packet sent when nothing had to be retried.
func twampLight(t *testing.T, n int) {
	t.Helper()
	c := udpInClient(t, 862)
	var lastRefl uint32
	sentBefore := 0 // packets sent since the last accepted reply
	for i := 0; i < n; i++ {
		req := make([]byte, 44) // seq 4, timestamp 8, error estimate 2, padding 30
		binary.BigEndian.PutUint32(req[0:], uint32(1000+i))
		binary.BigEndian.PutUint64(req[4:], uint64(time.Now().UnixNano()))
		binary.BigEndian.PutUint16(req[12:], 0x8001)
		got, tries, err := exchange(c, req, func(b []byte) bool {
			return len(b) >= 36 && binary.BigEndian.Uint32(b[24:]) == uint32(1000+i)
		})
		if err != nil {
			t.Fatalf("twamp %d: %v", i, err)
		}
		if len(got) < 41 {
			t.Fatalf("twamp %d: reflected packet of %d bytes, want at least 41", i, len(got))
		}
		if !bytes.Equal(got[28:36], req[4:12]) {
			t.Fatalf("twamp %d: sender timestamp not echoed", i)
		}
		if ttl := got[40]; ttl == 0 {
			t.Fatalf("twamp %d: sender TTL is 0", i)
		}
		// The accepted reply answers the first of this exchange's tries
		// that came back; every earlier send was reflected too.
		refl := binary.BigEndian.Uint32(got[0:])
		if i > 0 {
			if d := refl - lastRefl; d < 1 || int(d) > sentBefore+tries {
				t.Fatalf("twamp %d: reflector sequence %d after %d (%d packets sent since), want it to go up by one per reflected packet", i, refl, lastRefl, sentBefore+tries-1)
			}
		}
		lastRefl = refl
		sentBefore = tries
	}
}

func killPidFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing migratord %d: %v", pid, err)
	}
	for i := 0; i < 100 && Alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
}
