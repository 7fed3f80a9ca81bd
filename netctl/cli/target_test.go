package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSocketFor(t *testing.T) {
	if got, want := socketFor("/run/x", "hostA"), "/run/x/hostA/api.sock"; got != want {
		t.Errorf("socketFor(hostA) = %q, want %q", got, want)
	}
	if got, want := socketFor("/run/x", "/tmp/a/api.sock"), "/tmp/a/api.sock"; got != want {
		t.Errorf("socketFor(path) = %q, want %q", got, want)
	}
	if got, want := socketFor("/run/x", "./api.sock"), "./api.sock"; got != want {
		t.Errorf("socketFor(relative path) = %q, want %q", got, want)
	}
	g := &globals{}
	if got := g.runDir(); got != DefaultRunDir {
		t.Errorf("default run dir %q, want %q", got, DefaultRunDir)
	}
}

func TestHostResolution(t *testing.T) {
	env, _ := testbed(t, "hostA", "hostB")
	// --host wins over NFH_HOST.
	env["NFH_HOST"] = "hostB"
	check(t, run(t, env, "--host", "hostA", "health"), 0, "out:hostA")
	check(t, run(t, env, "health"), 0, "out:hostB")
	// A socket path.
	sock := filepath.Join(env["NFH_RUN_DIR"], "hostA", "api.sock")
	check(t, run(t, env, "--host", sock, "health"), 0, "out:hostA", "out:"+sock)
	// Neither: ambiguous with two agents.
	delete(env, "NFH_HOST")
	check(t, run(t, env, "health"), ExitUsage, "err:no agent chosen", "err:hostA, hostB")
}

func TestHostResolutionSoleAgent(t *testing.T) {
	env, _ := testbed(t, "hostC")
	check(t, run(t, env, "health"), 0, "out:hostC")
	empty := map[string]string{"NFH_RUN_DIR": t.TempDir()}
	check(t, run(t, empty, "vm", "list"), ExitUsage, "err:none found under", "err:testbed/up --agents")
}

func TestAgentMissing(t *testing.T) {
	env, _ := testbed(t, "hostA")
	r := run(t, env, "--host", "hostZ", "vm", "list")
	check(t, r, ExitFailure, "err:netctl: listing VMs on hostZ: no agent for host hostZ",
		"err:hostZ/api.sock does not exist", "err:testbed/up --agents", "err:netctl hosts")
	check(t, run(t, env, "--host", "/nonexistent/api.sock", "health"), ExitFailure,
		"err:no agent socket at /nonexistent/api.sock")
}

func TestAgentRefuses(t *testing.T) {
	env, _ := testbed(t)
	sock := deadSocket(t, env["NFH_RUN_DIR"], "hostA")
	check(t, run(t, env, "--host", "hostA", "health"), ExitFailure,
		"err:agent hostA is not answering on "+sock+": connection refused",
		"err:migratord.log")
}

func TestAgentTimeout(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].delay = time.Minute
	check(t, run(t, env, "--host", "hostA", "--timeout", "100ms", "health"), ExitFailure,
		"err:agent hostA did not answer within 100ms", "err:raise --timeout")
}

// deadSocket leaves a socket file at <runDir>/<host>/api.sock that nobody
// listens on.
func deadSocket(t *testing.T, runDir, host string) string {
	t.Helper()
	sock := filepath.Join(runDir, host, "api.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	return sock
}

func TestInterrupted(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].delay = time.Minute
	ctx, cancel := context.WithCancel(context.Background()) // as a signal would
	defer time.AfterFunc(100*time.Millisecond, cancel).Stop()
	var out, errb bytes.Buffer
	err := RunWith(ctx, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }},
		[]string{"--host", "hostA", "health"})
	if ExitCode(err) != ExitFailure || errb.String() != "netctl: interrupted\n" {
		t.Errorf("interrupted run: exit %d, stderr %q; want 1 and \"netctl: interrupted\"", ExitCode(err), errb.String())
	}
}
