package cli

import (
	"strings"
	"testing"
)

// check fails the test unless r exited with code and its stdout and stderr
// hold the given substrings ("out:" or "err:" prefix picks the stream).
func check(t *testing.T, r result, code int, subs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d", r.code, code)
	}
	for _, s := range subs {
		stream, text := "stdout", r.stdout
		if rest, ok := strings.CutPrefix(s, "err:"); ok {
			stream, text, s = "stderr", r.stderr, rest
		} else {
			s = strings.TrimPrefix(s, "out:")
		}
		if !strings.Contains(text, s) {
			t.Errorf("%s does not contain %q", stream, s)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	env, _ := testbed(t, "hostA")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`err:netctl: unknown command "frobnicate"`, "err:Run 'netctl --help' for usage."}},
		{[]string{"vm", "frobnicate"}, []string{`err:unknown command "frobnicate" for "netctl vm"`}},
		{[]string{"vm", "list", "--bogus"}, []string{"err:unknown flag: --bogus", "err:Run 'netctl vm list --help'"}},
		{[]string{"-o", "yaml", "vm", "list"}, []string{`err:--output "yaml": want table or json`}},
		{[]string{"--timeout", "0s", "health"}, []string{"err:--timeout 0s"}},
		{[]string{"vm", "start", "--ip", "198.18.0.100/24"}, []string{"err:missing the VM name"}},
		{[]string{"vm", "start", "fw1"}, []string{"err:no address: give --ip ADDR/PREFIX or --nic"}},
		{[]string{"vm", "start", "fw1", "--mac", "52:54:00:00:00:01", "--nic", ",198.18.0.100/24"}, []string{"err:--mac goes with --ip"}},
		{[]string{"vm", "start", "fw1", "--ip", "198.18.0.100/24", "--nic", "198.19.0.100/24"}, []string{`err:--nic "198.19.0.100/24": want MAC,ADDR/PREFIX[,NETWORK]`}},
		{[]string{"vm", "start", "fw1", "--ip", "198.18.0.100/24", "--nic", ",198.19.0.100/24,Core"}, []string{`err:invalid vm spec: nic 1: network "Core"`}},
		{[]string{"vm", "start", "fw1", "--ip", "198.18.0.100/24", "--nic", ",198.18.0.100/24"}, []string{"err:invalid vm spec: nic 1: address 198.18.0.100 is another nic's"}},
		{[]string{"vm", "start", "fw1", "--ip", "198.18.0.100/24", "--wss", "64"}, []string{"err:unknown flag: --wss", `err:vnf arguments go after "--"`}},
		{[]string{"vm", "start", "fw1", "64", "--ip", "198.18.0.100/24"}, []string{`err:unexpected argument "64"`}},
		{[]string{"vm", "start", "FW1", "--ip", "198.18.0.100/24"}, []string{`err:invalid vm spec: name "FW1"`}},
		{[]string{"vm", "start", "fw1", "--ip", "10.0.0.0/24"}, []string{"err:invalid vm spec: address"}},
		{[]string{"vm", "start", "fw1", "--ip", "198.18.0.100/24", "--", "--wss", "6 4"}, []string{"err:vnf argument"}},
		{[]string{"vm", "status"}, []string{"err:accepts 1 arg(s), received 0"}},
		{[]string{"vm", "stop", "a", "b"}, []string{"err:accepts 1 arg(s), received 2"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, env, append([]string{"--host", "hostA"}, tc.args...)...)
			check(t, r, ExitUsage, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout not empty on a usage error: %q", r.stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"testbed/up --agents", "hosts", "vm", "Exit status"}},
		{[]string{"--help"}, []string{"--host", "NFH_HOST", "--timeout"}},
		{[]string{"vm"}, []string{"Available Commands", "start", "status"}},
		{[]string{"vm", "start", "--help"}, []string{
			"netctl --host hostA vm start fw1 --ip 198.18.0.100/24 --gw 198.18.0.1 -- --wss 64",
			"--wait duration", "derived from NAME", `Arguments after "--" go to the vnf`}},
		{[]string{"help", "vm", "status"}, []string{"integrity", "boot id", "Examples:"}},
	} {
		r := run(t, nil, tc.args...)
		check(t, r, 0, tc.want...)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	root := newRoot(&globals{})
	for _, c := range root.Commands() {
		for _, sub := range append(c.Commands(), c) {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Short == "" || sub.Long == "" || sub.Example == "" {
				t.Errorf("%s: want Short, Long and Example", sub.CommandPath())
			}
		}
	}
}
