package cli

import (
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func statusBed(t *testing.T) (map[string]string, *fakeAgent) {
	env, agents := testbed(t, "hostA")
	a := agents["hostA"]
	a.vms["fw1"] = a.record(api.VMSpec{Name: "fw1", Address: "198.18.0.100/24", Gateway: "198.18.0.1",
		MAC: "52:54:00:00:00:01", MemoryMiB: 256, VCPUs: 1, Image: "vnf", VNFArgs: []string{"--wss", "64"}})
	return env, a
}

func TestVMStatus(t *testing.T) {
	env, _ := statusBed(t)
	r := run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0, "out:VM fw1 on hostA", "out:running (qemu: running)", "out:198.18.0.100/24, gateway 198.18.0.1",
		"out:vnf args:", "out:--wss 64", "out:console log:", "out:/state/vms/fw1/console.log",
		"out:integrity:", "out:ok (0 corrupt, 0 stale pages)", "out:boot id:", "out:00112233445566778899aabbccddeeff")
	for _, kv := range [][2]string{
		{"reflected packets:", "1234"}, {"echo packets:", "56"}, {"reflector seq:", "1290"},
		{"verify passes:", "3"}, {"uptime:", "3m12s"},
	} {
		if !hasLine(r.stdout, kv[0], kv[1]) {
			t.Errorf("no line %q ... %q", kv[0], kv[1])
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestVMStatusIntegrityErrors(t *testing.T) {
	env, a := statusBed(t)
	a.guest.CorruptPages, a.guest.StalePages = 2, 3
	r := run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0, "out:INTEGRITY:", "out:5 ERRORS: 2 corrupt, 3 stale pages",
		"err:netctl: warning: fw1 reports integrity errors: 2 corrupt, 3 stale pages")

	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	check(t, r, 0, "err:warning: fw1 reports integrity errors")
	var st api.VMStatus
	decodeOne(t, r.stdout, &st)
	if st.Guest == nil || st.Guest.IntegrityErrors() != 5 {
		t.Errorf("json status guest %+v: want 5 integrity errors", st.Guest)
	}
}

func TestVMStatusGuestDrops(t *testing.T) {
	env, a := statusBed(t)
	u := func(v uint64) *uint64 { return &v }
	r := run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "guest drops:", "not reported (a vnf older than these counters?)") {
		t.Errorf("an old vnf's status:\n%s", r.stdout)
	}

	a.guest.UDPInErrors, a.guest.UDPRcvbufErrors, a.guest.UDPMemErrors, a.guest.RxDropped = u(553), u(550), u(3), u(0)
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	check(t, r, 0)
	if !hasLine(r.stdout, "guest drops:", "udp rcvbuf 550, udp mem 3, in-errors 553, rx_dropped 0") {
		t.Errorf("no guest drops line:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	check(t, r, 0, `out:"udp_rcvbuf_errors": 550`, `out:"rx_dropped": 0`)
	var st api.VMStatus
	decodeOne(t, r.stdout, &st)
	if g := st.Guest; g == nil || g.UDPMemErrors == nil || *g.UDPMemErrors != 3 || g.UDPInErrors == nil || *g.UDPInErrors != 553 {
		t.Errorf("json guest %+v", st.Guest)
	}

	// A kernel without the MemErrors column.
	a.guest.UDPMemErrors = nil
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "guest drops:", "udp rcvbuf 550, udp mem -, in-errors 553, rx_dropped 0") {
		t.Errorf("MemErrors not reported:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	if strings.Contains(r.stdout, "udp_mem_errors") {
		t.Errorf("json has udp_mem_errors though not reported:\n%s", r.stdout)
	}
}

func TestVMStatusGuestSilent(t *testing.T) {
	env, a := statusBed(t)
	a.guestAfter = -1
	check(t, run(t, env, "--host", "hostA", "vm", "status", "fw1"), 0,
		"out:vnf: not answering: no answer from 198.18.0.100:9862")
}

func TestVMStatusNoSuchVM(t *testing.T) {
	env, _ := statusBed(t)
	r := run(t, env, "--host", "hostA", "vm", "status", "fw9", "-o", "json")
	check(t, r, ExitFailure, "err:netctl: status of fw9 on hostA: no such vm: fw9")
	if r.stdout != "" {
		t.Errorf("stdout on failure: %q", r.stdout)
	}
}

// hasLine reports whether some line of s starts (after spaces) with key and
// ends with value.
func hasLine(s, key, value string) bool {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, key) && strings.HasSuffix(l, value) {
			return true
		}
	}
	return false
}

// A guest with several NICs shows a line per NIC (address, MAC, network,
// tap) and its gateway; a one-NIC guest keeps its address, mac and tap
// lines.
func TestVMStatusNICs(t *testing.T) {
	env, a := statusBed(t)
	a.vms["gw1"] = a.record(api.VMSpec{Name: "gw1", Address: "198.18.0.102/24", Gateway: "198.19.0.1",
		MAC: "52:54:00:00:00:03", MemoryMiB: 256, VCPUs: 1, Image: "vnf",
		NICs: []api.NIC{{MAC: "52:54:00:00:01:03", Address: "198.19.0.102/24", Network: "core"}}})
	r := run(t, env, "--host", "hostA", "vm", "status", "gw1")
	check(t, r, 0)
	for _, kv := range [][2]string{
		{"nic 0:", "198.18.0.102/24, mac 52:54:00:00:00:03, network default, tap nfhtgw1"},
		{"nic 1:", "198.19.0.102/24, mac 52:54:00:00:01:03, network core, tap nfhtgw1n1"},
		{"gateway:", "198.19.0.1"},
	} {
		if !hasLine(r.stdout, kv[0], kv[1]) {
			t.Errorf("no line %q ... %q in\n%s", kv[0], kv[1], r.stdout)
		}
	}
	if strings.Contains(r.stdout, "  tap:") || strings.Contains(r.stdout, "  address:") {
		t.Errorf("a several-NIC guest shows the one-NIC lines too:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "tap:", "nfhtfw1") || !hasLine(r.stdout, "mac:", "52:54:00:00:00:01") || strings.Contains(r.stdout, "nic 0:") {
		t.Errorf("one-NIC guest's status:\n%s", r.stdout)
	}
}
