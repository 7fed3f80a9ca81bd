package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/iperf"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// reflector runs a TWAMP-light reflector on a loopback port and returns it.
func reflector(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = twamp.NewReflector(nil).Serve(ctx, conn)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
}

// verifyArgs migrates fw1 (at 127.0.0.1) with a short verification against port.
func verifyArgs(port string, more ...string) []string {
	return append([]string{"--host", "hostA", "migrate", "fw1", "--to", "hostB", "--verify", "--verify-netns", "-",
		"--verify-port", port, "--verify-rate", "200", "--verify-before", "300ms", "--verify-after", "300ms"}, more...)
}

func verifyBed(t *testing.T) (map[string]string, *fakeAgent) {
	env, agents := testbed(t, "hostA", "hostB")
	agents["hostA"].addVM("fw1", "127.0.0.1/8")
	return env, agents["hostA"]
}

func TestMigrateVerify(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	dir := filepath.Join(t.TempDir(), "report")
	r := run(t, env, verifyArgs(reflector(t), "--report", dir)...)
	check(t, r, 0, "out:verify: 200 packets/s of 64 bytes to 127.0.0.1:", "out:from netctl's own network namespace",
		"out:verify: sending for another 300ms", "out:COMPLETED", "out:verification (TWAMP-light",
		"out:  lost:           0\n", "out:reflector seq:  continuous", "out:verdict:        PASS",
		"out:  report:         "+filepath.Join(dir, verify.ReportFile)+"\n")
	raw := a.mig.attached["hostA-1"]
	var rep verify.Report
	if err := json.Unmarshal(raw, &rep); err != nil || !rep.Pass || rep.Sent == 0 || rep.Lost != 0 {
		t.Errorf("attached verification %s (%v): want a pass with packets sent", raw, err)
	}
	if _, err := os.Stat(filepath.Join(dir, verify.ReportFile)); err != nil {
		t.Errorf("no report.json: %v", err)
	}
}

func TestMigrateVerifyJSON(t *testing.T) {
	t.Parallel()
	env, _ := verifyBed(t)
	r := run(t, env, append([]string{"-o", "json"}, verifyArgs(reflector(t))...)...)
	check(t, r, 0, "err:verify: 200 packets/s")
	var m api.Migration
	decodeOne(t, r.stdout, &m)
	var rep verify.Report
	if err := json.Unmarshal(m.Verification, &rep); err != nil || !rep.Pass || m.State != api.MigrationCompleted {
		t.Errorf("json record state %s, verification %s (%v): want completed and a pass", m.State, m.Verification, err)
	}
}

// lossyReflector reflects every test packet but each tenth on a loopback port.
func lossyReflector(t *testing.T) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf, out := make([]byte, 2048), make([]byte, 0, 2048)
		var seq uint32
		for {
			n, src, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p, err := twamp.DecodeSender(buf[:n])
			if err != nil || p.Seq%10 == 9 {
				continue
			}
			now := twamp.NewTimestamp(time.Now())
			if out, err = twamp.Reflect(out[:0], buf[:n], seq, now, now, twamp.DefaultErrorEstimate, 64); err == nil {
				seq++
				_, _ = conn.WriteToUDP(out, src)
			}
		}
	}()
	return strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
}

func TestMigrateVerifyFails(t *testing.T) {
	t.Parallel()
	env, _ := verifyBed(t)
	port := lossyReflector(t)
	r := run(t, env, verifyArgs(port)...)
	check(t, r, ExitFailure, "out:COMPLETED", "out:verdict:        FAIL: ", "lost (max 0)",
		"err:netctl: verification failed: ")
	r = run(t, env, verifyArgs(port, "--max-lost", "-1")...)
	check(t, r, 0, "out:verdict:        PASS")
}

func TestMigrateVerifyFailedMigration(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	a.mig.script = scriptFailed()
	r := run(t, env, verifyArgs(reflector(t))...)
	check(t, r, ExitFailure, "out:FAILED", "out:verdict:        PASS", "err:netctl: migration hostA-1 failed")
	if len(a.mig.attached["hostA-1"]) == 0 {
		t.Error("verification of a failed migration not attached")
	}
}

func TestMigrateVerifyNoReflector(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // a port that answers nothing
	port := strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	r := run(t, env, verifyArgs(port)...)
	check(t, r, ExitFailure, "err:verify: no reply from 127.0.0.1:"+port, "err:the migration was not started",
		"err:netctl vm status fw1")
	if n := len(a.mig.requests); n != 0 {
		t.Errorf("%d migrations started without a reflector", n)
	}
	check(t, run(t, env, "--host", "hostA", "migrate", "fw9", "--to", "hostB", "--verify", "--verify-netns", "-"),
		ExitFailure, "err:finding fw9's address on hostA: no such vm")
}

func TestMigrateVerifyInterrupted(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	port := reflector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.mig.script = scriptStuck()
	a.mig.onGet = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	r := runCtx(t, ctx, false, env, verifyArgs(port)...)
	check(t, r, ExitFailure, "out:CANCELLED", "out:verification (TWAMP-light", "err:netctl: interrupted: migration hostA-1 cancelled")
	if strings.Contains(r.stdout, "sending for another") {
		t.Error("kept sending after an interrupt")
	}
	if len(a.mig.attached["hostA-1"]) == 0 || len(a.mig.cancels) != 1 {
		t.Errorf("cancels %v, attached %q: want the migration cancelled and the verification attached", a.mig.cancels, a.mig.attached["hostA-1"])
	}
}

// cancelOn is a writer that calls cancel once text has been written to it.
type cancelOn struct {
	bytes.Buffer
	text   string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Contains(c.String(), c.text) {
		c.cancel()
	}
	return n, err
}

func TestMigrateVerifyInterruptedAfter(t *testing.T) {
	t.Parallel()
	env, a := verifyBed(t)
	port := reflector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{text: "verify: sending for another", cancel: cancel}
	var errb bytes.Buffer
	err := RunWith(ctx, Env{Stdout: out, Stderr: &errb, Getenv: func(k string) string { return env[k] }},
		verifyArgs(port, "--verify-after", "1m"))
	r := result{stdout: out.String(), stderr: errb.String(), code: ExitCode(err)}
	t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	check(t, r, ExitFailure, "out:COMPLETED", "out:verdict:", "err:interrupted after migration hostA-1 completed: the verification was cut short")
	if len(a.mig.cancels) != 0 {
		t.Errorf("a completed migration was cancelled: %v", a.mig.cancels)
	}
}

// The help states the sender's drain defaults; it must follow them.
func TestMigrateHelpDrainDefaults(t *testing.T) {
	for _, d := range []time.Duration{verify.DefaultDrain, verify.DefaultDrainMax} {
		if !strings.Contains(migrateLong, " "+d.String()) {
			t.Errorf("migrate help does not mention the drain default %v", d)
		}
	}
}

// --verify-target probes a reflector other than the VM's own (a server
// behind a VNF): fw1 has an address no reflector answers on, the reflector
// is on 127.0.0.2.
func TestMigrateVerifyTarget(t *testing.T) {
	t.Parallel()
	env, agents := testbed(t, "hostA", "hostB")
	agents["hostA"].addVM("fw1", "198.18.0.100/24")
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = twamp.NewReflector(nil).Serve(ctx, conn)
	}()
	t.Cleanup(func() { cancel(); <-done })
	port := strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)
	r := run(t, env, verifyArgs(port, "--verify-target", "127.0.0.2")...)
	check(t, r, 0, "out:verify: 200 packets/s of 64 bytes to 127.0.0.2:"+port+" (the reflector through fw1)",
		"out:COMPLETED", "out:verdict:        PASS")

	for _, bad := range []string{"fw1", "::1", "198.18.0.0/24"} {
		check(t, run(t, env, verifyArgs(port, "--verify-target", bad)...), ExitUsage, "err:--verify-target")
	}
	check(t, run(t, env, "--host", "hostA", "migrate", "fw1", "--to", "hostB", "--verify-target", "127.0.0.2"),
		ExitUsage, "err:--verify-target needs --verify")
}

// --verify-tcp runs an iperf3 flow to the target across the migration and
// puts its account in the verdict; without a server there, the migration
// is not started. (Privileged tier: it needs Debian's iperf3.)
func TestPrivMigrateVerifyTCP(t *testing.T) {
	privtest.RequireCommand(t, "iperf3")
	env, a := verifyBed(t)
	port := reflector(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := iperf.StartServer(ctx, "", netip.MustParseAddr("127.0.0.1"), 5297)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	r := run(t, env, verifyArgs(port, "--verify-tcp", "--verify-tcp-port", "5297", "--verify-tcp-mbps", "5")...)
	check(t, r, 0, "out:verify: a TCP flow (iperf3, 5 Mbit/s) to 127.0.0.1:5297", "out:  tcp (iperf3):   survived,",
		"out:TCP survived, 0 retransmits, longest stall 0.0ms")
	var rep verify.Report
	if err := json.Unmarshal(a.mig.attached["hostA-1"], &rep); err != nil || rep.TCP == nil || !rep.TCP.Survived || rep.TCP.Bytes == 0 {
		t.Errorf("attached verification %s (%v): want a TCP account that survived", a.mig.attached["hostA-1"], err)
	}

	r = run(t, env, verifyArgs(port, "--verify-tcp", "--verify-tcp-port", "5296")...)
	check(t, r, ExitFailure, "err:the TCP flow to 127.0.0.1:5296 ended before the migration", "err:the migration was not started")
	if n := len(a.mig.requests); n != 1 {
		t.Errorf("%d migrations started, want 1 (none without a server)", n)
	}
}
