package testbed

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"github.com/nfhandoff/nfhandoff/dataplane"
	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// TestIntegrationLibvirtMode is issue 14's libvirt mode: each agent runs
// with --libvirt-socket (its libvirtd's read-only socket). A domain an
// operator starts with plain virsh in hostA shows up in the agent's `netctl
// vm list` as a libvirt guest with its tap, the address its metadata gives
// and the dataplane's tap hook on that tap (its pinned tcx link, and the
// dataplane counting the guest's frames); `netctl vm status` shows
// libvirt's run state and the vnf's status; a stop through the agent is
// refused and the domain runs on; the domain's XML is what it was; a
// restart of the agent, then one of libvirtd, leave it listed and hooked.
// When the operator moves it to hostB with virsh migrate, hostA's agent
// drops it and its hook, hostB's (in libvirt mode too) lists it with the
// hook on its new tap; when the operator destroys it there, it leaves
// hostB's list and the hook goes.
func TestIntegrationLibvirtMode(t *testing.T) {
	env := requireTestbed(t)
	privtest.RequireCommand(t, "libvirtd", "virsh")
	if !env.HasDataplane() {
		privtest.Unavailable(t, "%s/migratord has no eBPF dataplane (no --bpf-pin-dir)", env.BinDir)
	}
	// The daemons' read-only sockets: libvirtd itself refuses the agents
	// any change to a domain.
	for _, h := range []string{"hostA", "hostB"} {
		env = env.WithAgentArgs(h, "--libvirt-socket="+env.LibvirtSocket(h)+"-ro")
	}
	upLibvirtTestbed(t, env, 2, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	agent := api.NewClient(env.Socket("hostA"))
	uri := libvirt.URI(env.LibvirtSocket("hostA"))

	def, spec := libvirtGuest(t, env)
	xmlFile := filepath.Join(t.TempDir(), libvirtDomain+".xml")
	if err := os.WriteFile(xmlFile, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	virsh(t, uri, "create", xmlFile)
	destroyLibvirtDomainAtEnd(t, env)
	before := virsh(t, uri, "dumpxml", libvirtDomain)

	rec := waitListed(ctx, t, agent, true)
	tap := vm.TapName(libvirtDomain)
	if rec.Source != api.SourceLibvirt || rec.Host != "hostA" || rec.State != api.StateRunning || rec.Tap != tap ||
		rec.Spec.MAC != spec.MAC || rec.Spec.Address != spec.Address {
		t.Fatalf("hostA's agent lists %+v: want %s from libvirt, running on hostA, tap %s, mac %s, address %s",
			rec, libvirtDomain, tap, spec.MAC, spec.Address)
	}
	out, _, err := env.Netctl(ctx, "--host", "hostA", "vm", "list")
	if err != nil || !strings.Contains(out, libvirtDomain) || !strings.Contains(out, "libvirt") {
		t.Fatalf("netctl vm list: %v\n%s", err, out)
	}
	t.Logf("netctl --host hostA vm list:\n%s", out)
	tapHooked(t, env, "hostA", tap)

	vnfAnswers(ctx, t, env, 3*time.Minute)
	echo(t, 20)
	if n := vmFrames(ctx, t, env, "hostA", libvirtDomain); n == 0 {
		t.Errorf("the dataplane counted no frame of %s after 20 echoes", libvirtDomain)
	} else {
		t.Logf("the dataplane counted %.0f frames of %s", n, libvirtDomain)
	}
	st, err := agent.VMStatus(ctx, libvirtDomain)
	if err != nil || st.QEMUStatus != "running" || st.Guest == nil || st.Guest.IntegrityErrors() != 0 {
		t.Fatalf("status of %s: %+v (%v), want libvirt's running and the vnf's status", libvirtDomain, st, err)
	}
	out, _, err = env.Netctl(ctx, "--host", "hostA", "vm", "status", libvirtDomain)
	if err != nil || !strings.Contains(out, "source:") {
		t.Fatalf("netctl vm status: %v\n%s", err, out)
	}
	t.Logf("netctl --host hostA vm status %s:\n%s", libvirtDomain, out)

	if _, err := agent.StopVM(ctx, libvirtDomain); !errors.Is(err, api.ErrForeign) {
		t.Errorf("stopping a libvirt guest through the agent: %v, want it refused (ErrForeign)", err)
	}
	if st := strings.TrimSpace(virsh(t, uri, "domstate", libvirtDomain)); st != "running" {
		t.Errorf("domain state %q after the refused stop, want running", st)
	}
	if after := virsh(t, uri, "dumpxml", libvirtDomain); after != before {
		t.Errorf("the domain's XML changed while the agent watched it:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// hostA's agent restarts (SIGTERM, started again): the new one finds
	// the domain and hooks its tap again; then hostA's libvirtd restarts
	// under the agent, which dials it again (its third "watching" line
	// in the log: the first agent's, the second's, the redial) and keeps
	// the guest.
	if err := env.StopAgent(ctx, "hostA", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := env.StartAgents(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := waitListed(ctx, t, agent, true); rec.Tap != tap || rec.Source != api.SourceLibvirt {
		t.Fatalf("after an agent restart hostA's agent lists %+v", rec)
	}
	// The old agent's pinned link outlives it: that the new one attached
	// is in its log ("foreign guest up ... attached=true", the second).
	agentLog := filepath.Join(env.RunDir, "hostA", "migratord.log")
	waitLog(t, agentLog, "attached=true", 2)
	tapHooked(t, env, "hostA", tap)
	restartLibvirtd(ctx, t, env, "hostA")
	if rec := waitListed(ctx, t, agent, true); rec.Tap != tap {
		t.Fatalf("after a libvirtd restart hostA's agent lists %+v", rec)
	}
	waitLog(t, agentLog, "watching libvirt's domains", 3)
	tapHooked(t, env, "hostA", tap)
	echo(t, 5)

	// The operator moves it to hostB with plain virsh: hostA's agent lets
	// go of it (libvirt's stopped/migrated event), hostB's takes it
	// (started/migrated) with its new tap.
	t.Logf("%s", virshMigrate(ctx, t, env, "hostA", libvirt.URI(env.LibvirtSocket("hostB")), 1))
	agentB := api.NewClient(env.Socket("hostB"))
	waitListed(ctx, t, agent, false)
	hookGone(t, env, "hostA", tap)
	if rec := waitListed(ctx, t, agentB, true); rec.Host != "hostB" || rec.Tap != tap || rec.Source != api.SourceLibvirt {
		t.Fatalf("hostB's agent lists %+v after the move", rec)
	}
	tapHooked(t, env, "hostB", tap)
	echo(t, 5)

	virsh(t, libvirt.URI(env.LibvirtSocket("hostB")), "destroy", libvirtDomain)
	waitListed(ctx, t, agentB, false)
	hookGone(t, env, "hostB", tap)
}

// hookGone fails t if host's agent still has the tap hook's link pinned.
func hookGone(t *testing.T, env Env, host, tap string) {
	t.Helper()
	pin := tchook.LinkPin(filepath.Join(env.RunDir, "bpffs", host), tap, dataplane.HookTapEgress)
	if _, err := os.Stat(pin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: the tap hook's pinned link %s: %v, want it gone", host, pin, err)
	}
}

// restartLibvirtd stops host's libvirtd (SIGTERM: its QEMUs run on) and
// starts it again as testbed/up does.
func restartLibvirtd(ctx context.Context, t *testing.T, env Env, host string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.LibvirtDir(host), "libvirtd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stopping %s's libvirtd: %v", host, err)
	}
	if err := waitGone(ctx, pid, host+"'s libvirtd"); err != nil {
		t.Fatal(err)
	}
	if out, err := env.UpLibvirt(ctx, 2, true); err != nil {
		t.Fatalf("starting %s's libvirtd again: %v\n%s", host, err, out)
	}
}

// waitLog waits until file holds at least n lines containing s.
func waitLog(t *testing.T, file, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(file)
		if strings.Count(string(b), s) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines with %q after 30s, want %d", file, strings.Count(string(b), s), s, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// virsh runs virsh against uri and returns its output, failing t on an
// error.
func virsh(t *testing.T, uri string, args ...string) string {
	t.Helper()
	out, err := exec.Command("virsh", append([]string{"-c", uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitListed waits until agent lists the test domain (or, with
// listed false, no longer does) and returns its record.
func waitListed(ctx context.Context, t *testing.T, agent *api.Client, listed bool) api.VM {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		vms, err := agent.ListVMs(ctx)
		if err != nil {
			t.Fatalf("listing vms: %v", err)
		}
		var rec api.VM
		found := false
		for _, v := range vms {
			if v.Spec.Name == libvirtDomain {
				rec, found = v, true
			}
		}
		if found == listed {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the agent lists %+v: want %s listed: %v", vms, libvirtDomain, listed)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tapHooked fails t unless the dataplane's tap program is attached to tap
// in host's namespace: its tcx link pinned where host's agent pins it,
// on tap's ifindex.
func tapHooked(t *testing.T, env Env, host, tap string) {
	t.Helper()
	pin := tchook.LinkPin(filepath.Join(env.RunDir, "bpffs", host), tap, dataplane.HookTapEgress)
	l, err := link.LoadPinnedLink(pin, nil)
	if err != nil {
		t.Fatalf("tap hook of %s: %v", tap, err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil || info.TCX() == nil {
		t.Fatalf("tap hook of %s: link info %+v (%v), want a tcx link", tap, info, err)
	}
	out, err := exec.Command("ip", "-n", "nfh-"+host, "-o", "link", "show", tap).CombinedOutput()
	if err != nil {
		t.Fatalf("tap %s in nfh-%s: %v %s", tap, host, err, out)
	}
	ifindex, _ := strconv.Atoi(strings.SplitN(string(out), ":", 2)[0])
	if int(info.TCX().Ifindex) != ifindex {
		t.Fatalf("tap hook of %s on ifindex %d, the tap is %d", tap, info.TCX().Ifindex, ifindex)
	}
	t.Logf("tap %s (ifindex %d): the dataplane's tcx link %s", tap, ifindex, pin)
}

// vmFrames sums the frames host's dataplane counted for vm
// (nfh_dataplane_frames_total), read from the agent's /metrics.
func vmFrames(ctx context.Context, t *testing.T, env Env, host, vm string) float64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", env.Socket(host))
	}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent/metrics", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s's metrics: %v", host, err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "nfh_dataplane_frames_total{") || !strings.Contains(l, `vm="`+vm+`"`) {
			continue
		}
		f := strings.Fields(l)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}
