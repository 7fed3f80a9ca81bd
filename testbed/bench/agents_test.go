package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestAgentArgs(t *testing.T) {
	h := &Host{Name: "hostB", Netns: "nfb-hostB", Addr: netip.MustParseAddr("198.19.200.12")}
	args := agentArgs("/run/nfb", "/img", "/run/nfb/agent-pki", h)
	flag := func(name string) string {
		i := slices.Index(args, name)
		if i < 0 || i+1 >= len(args) {
			t.Fatalf("no %s in %q", name, args)
		}
		return args[i+1]
	}
	for name, want := range map[string]string{
		"--name": "hostB", "--quic-listen": "198.19.200.12:7443", "--bridge": bridge, "--accel": "tcg",
		"--state-dir": "/run/nfb/agent-hostB", "--image-dir": "/img", "--peers": "/run/nfb/peers",
	} {
		if got := flag(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !isBenchAgent(append([]string{"/x/migratord"}, args...), "/run/nfb") {
		t.Error("its own command line is not recognised as a bench agent")
	}
	if isBenchAgent(append([]string{"/x/migratord"}, agentArgs("/run/other", "/img", "/p", h)...), "/run/nfb") {
		t.Error("an agent of another run dir is taken for ours")
	}
	if isBenchAgent([]string{"/usr/bin/migratord", "--state-dir", "/run/nfhandoff/hostB/state"}, "/run/nfb") {
		t.Error("a testbed agent is taken for the bench's")
	}
}

func TestPeersFile(t *testing.T) {
	hosts := []*Host{
		{Name: "hostA", Addr: netip.MustParseAddr("198.19.200.11")},
		{Name: "hostB", Addr: netip.MustParseAddr("198.19.200.12")},
	}
	got := string(peersFile(hosts))
	for _, want := range []string{"\nhostA 198.19.200.11:7443\n", "\nhostB 198.19.200.12:7443\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("peers file lacks %q:\n%s", want, got)
		}
	}
}

func TestFamilies(t *testing.T) {
	set := &agentSet{}
	ms := []Method{&plain{}, &nfhandoff{agentSet: set}, &plain{tls: true}, &nfhandoff{adaptive: true, agentSet: set}}
	fs := families(ms)
	var got []string
	for _, f := range fs {
		var names []string
		for _, m := range f {
			names = append(names, m.Name())
		}
		got = append(got, strings.Join(names, "+"))
	}
	want := []string{"qemu-tcp+qemu-tls", "nfhandoff", "nfhandoff-adaptive"}
	if !slices.Equal(got, want) {
		t.Errorf("families %q, want %q", got, want)
	}
}
