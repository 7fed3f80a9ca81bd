package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestVMStartPassesSpec(t *testing.T) {
	env, agents := testbed(t, "hostA")
	r := run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24", "--gw", "198.18.0.1",
		"--wait", "0", "--", "--wss", "64", "--dirty-rate", "2", "--ip", "x")
	check(t, r, 0, "out:fw1: running on hostA", "out:mac "+DeriveMAC("fw1")+" (derived from the name)",
		"out:console log: /state/vms/fw1/console.log")
	got := agents["hostA"].started
	if len(got) != 1 {
		t.Fatalf("agent got %d start requests, want 1", len(got))
	}
	want := api.VMSpec{Name: "fw1", MemoryMiB: 256, VCPUs: 1, Image: "vnf", MAC: DeriveMAC("fw1"),
		Address: "198.18.0.100/24", Gateway: "198.18.0.1", VNFArgs: []string{"--wss", "64", "--dirty-rate", "2", "--ip", "x"}}
	if !specEqual(got[0], want) {
		t.Errorf("agent got spec %+v, want %+v", got[0], want)
	}
	if agents["hostA"].polls != 0 {
		t.Errorf("--wait 0 polled the status %d times", agents["hostA"].polls)
	}
}

func TestVMStartFlags(t *testing.T) {
	env, agents := testbed(t, "hostA")
	r := run(t, env, "--host", "hostA", "vm", "start", "--mac", "52:54:00:00:00:01", "nat1", "--mem", "512",
		"--vcpus", "2", "--image", "other", "--ip", "198.18.0.101/24", "--wait=0")
	check(t, r, 0, "out:mac 52:54:00:00:00:01")
	if strings.Contains(r.stdout, "derived") {
		t.Error("an explicit --mac is reported as derived")
	}
	want := api.VMSpec{Name: "nat1", MemoryMiB: 512, VCPUs: 2, Image: "other", MAC: "52:54:00:00:00:01", Address: "198.18.0.101/24"}
	if got := agents["hostA"].started[0]; !specEqual(got, want) {
		t.Errorf("agent got spec %+v, want %+v", got, want)
	}
}

// --nic adds NICs after --ip's, or is the first NIC without --ip; an empty
// MAC is derived from the name and the NIC's index; the output names each
// NIC.
func TestVMStartNICs(t *testing.T) {
	env, agents := testbed(t, "hostA")
	r := run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24", "--gw", "198.19.0.1",
		"--nic", "52:54:00:00:01:01,198.19.0.100/24,core", "--nic", ",10.0.0.5/8", "--wait", "0")
	check(t, r, 0, "out:nic 0: address 198.18.0.100/24, mac "+DeriveMAC("fw1")+" (derived from the name), network default, tap nfhtfw1",
		"out:nic 1: address 198.19.0.100/24, mac 52:54:00:00:01:01, network core, tap nfhtfw1n1",
		"out:nic 2: address 10.0.0.5/8, mac "+DeriveMAC("fw1/2")+" (derived from the name), network default, tap nfhtfw1n2",
		"out:gateway 198.19.0.1")
	want := api.VMSpec{Name: "fw1", MemoryMiB: 256, VCPUs: 1, Image: "vnf", MAC: DeriveMAC("fw1"), Address: "198.18.0.100/24",
		Gateway: "198.19.0.1", NICs: []api.NIC{{MAC: "52:54:00:00:01:01", Address: "198.19.0.100/24", Network: "core"},
			{MAC: DeriveMAC("fw1/2"), Address: "10.0.0.5/8"}}}
	if got := agents["hostA"].started[0]; !specEqual(got, want) {
		t.Errorf("agent got spec %+v, want %+v", got, want)
	}

	r = run(t, env, "--host", "hostA", "vm", "start", "fw2", "--nic", "52:54:00:00:02:01,198.19.0.101/24,core",
		"--nic", ",198.18.0.101/24", "--wait", "0")
	check(t, r, 0, "out:nic 0: address 198.19.0.101/24, mac 52:54:00:00:02:01, network core")
	want = api.VMSpec{Name: "fw2", MemoryMiB: 256, VCPUs: 1, Image: "vnf", MAC: "52:54:00:00:02:01", Address: "198.19.0.101/24",
		Network: "core", NICs: []api.NIC{{MAC: DeriveMAC("fw2/1"), Address: "198.18.0.101/24"}}}
	if got := agents["hostA"].started[1]; !specEqual(got, want) {
		t.Errorf("agent got spec %+v, want %+v", got, want)
	}
}

func TestVMStartWaits(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].guestAfter = 3
	r := run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24")
	check(t, r, 0, "out:fw1: vnf answering (boot id 00112233445566778899aabbccddeeff, guest uptime 3m5s)")
	if r.stderr != "" {
		t.Errorf("progress drawn off a terminal: %q", r.stderr)
	}
	if p := agents["hostA"].polls; p != 3 {
		t.Errorf("status polled %d times, want 3", p)
	}
}

func TestVMStartJSON(t *testing.T) {
	env, agents := testbed(t, "hostA")
	agents["hostA"].guestAfter = 2
	r := run(t, env, "--host", "hostA", "-o", "json", "vm", "start", "fw1", "--ip", "198.18.0.100/24")
	check(t, r, 0)
	var st api.VMStatus
	decodeOne(t, r.stdout, &st)
	if st.Spec.Name != "fw1" || st.Guest == nil || st.Guest.ReflectorSeq != 1290 {
		t.Errorf("json status %+v: want fw1 with the guest's status", st)
	}
	r = run(t, env, "--host", "hostA", "-o", "json", "vm", "start", "fw2", "--ip", "198.18.0.101/24", "--wait", "0")
	var vm api.VM
	decodeOne(t, r.stdout, &vm)
	if vm.Spec.Name != "fw2" || vm.Spec.MAC != DeriveMAC("fw2") {
		t.Errorf("json record %+v: want fw2 with its derived MAC", vm)
	}
}

func TestVMStartAgentErrors(t *testing.T) {
	env, agents := testbed(t, "hostA")
	check(t, run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24", "--wait", "0"), 0)
	check(t, run(t, env, "--host", "hostA", "vm", "start", "fw1", "--ip", "198.18.0.100/24", "--wait", "0"), ExitFailure,
		"err:netctl: starting fw1 on hostA: vm already exists: fw1")

	agents["hostA"].startErr = &api.DetailError{
		Err:    fmt.Errorf("%w: qemu exited with status 1", api.ErrQEMU),
		Detail: "qemu-system-x86_64: -netdev tap,id=n0,fd=3: bad fd\nsecond line",
	}
	r := run(t, env, "--host", "hostA", "vm", "start", "fw2", "--ip", "198.18.0.101/24")
	check(t, r, ExitFailure, "err:netctl: starting fw2 on hostA: qemu failed: qemu exited with status 1\nagent detail:\n",
		"err:\n  qemu-system-x86_64: -netdev tap,id=n0,fd=3: bad fd\n  second line\n")
}

func specEqual(a, b api.VMSpec) bool {
	return reflect.DeepEqual(a, b)
}

// decodeOne decodes s as exactly one JSON document into v.
func decodeOne(t *testing.T, s string, v any) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	if err := d.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document:\n%s", s)
	}
}
