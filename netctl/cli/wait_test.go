package cli

import (
	"strings"
	"testing"
)

func TestVMStartProgressOnTerminal(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].guestAfter = 3
	r := runTTY(t, true, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24")
	check(t, r, 0, "err:\r\x1b[Kwaiting for fw1's vnf: ", "err:state running, qemu running")
	if !strings.HasSuffix(r.stderr, "\r\x1b[K") {
		t.Errorf("progress line not cleared at the end: %q", r.stderr)
	}
}

func TestVMStartWaitTimesOut(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].guestAfter = -1
	r := run(t, env, "--host", "hostA", "-o", "json", "vm", "start", "fw1", "--ip", "198.18.0.100/24", "--wait", "400ms")
	check(t, r, ExitFailure, "err:netctl: fw1 started but its vnf did not answer within 400ms: no answer from 198.18.0.100:9862",
		"err:the guest's console log: /state/vms/fw1/console.log", `err:"netctl vm stop fw1" removes it`)
	if r.stdout != "" {
		t.Errorf("stdout on failure: %q", r.stdout)
	}
}

func TestVMStartGuestFails(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].failReason = "qemu exited: status 1"
	r := run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24")
	check(t, r, ExitFailure, "err:netctl: fw1 failed while booting: qemu exited: status 1", "err:console log: /state/vms/fw1/console.log")
}
