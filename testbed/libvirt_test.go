package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/libvirt"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// libvirtDomain is the test's domain; its QEMU carries guest=<it> on its
// command line (-name), which is how leftovers are found.
const libvirtDomain = "lvvnf"

// startLibvirtDomain creates the test's transient domain (libvirtGuest)
// on the daemon l (hostA's) and has it destroyed at the end wherever it
// runs then.
func startLibvirtDomain(t *testing.T, env Env, l *golibvirt.Libvirt, vnfArgs ...string) (golibvirt.Domain, api.VMSpec) {
	t.Helper()
	def, spec := libvirtGuest(t, env, vnfArgs...)
	dom, err := l.DomainCreateXML(def, golibvirt.DomainNone)
	if err != nil {
		t.Fatalf("creating domain: %v\n%s", err, def)
	}
	destroyLibvirtDomainAtEnd(t, env)
	return dom, spec
}

// libvirtGuest is the test domain's XML: the vnf image as migrator/vm's
// 256 MiB TCG guest, vnfArgs for the vnf, the console in the run dir.
func libvirtGuest(t *testing.T, env Env, vnfArgs ...string) (string, api.VMSpec) {
	t.Helper()
	spec := api.VMSpec{Name: libvirtDomain, MAC: "52:54:00:4c:56:01", Address: guestAddr, Gateway: gateway, VNFArgs: vnfArgs}
	spec.Defaults()
	img := filepath.Join(env.ImageDir, spec.Image)
	def, err := libvirt.DomainXML(libvirt.Guest{Spec: spec, Accel: vm.AccelTCG,
		Kernel: filepath.Join(img, "vmlinuz"), Initrd: filepath.Join(img, "initrd.img"),
		Bridges: []string{vm.DefaultBridge}, Console: libvirtConsole(env)})
	if err != nil {
		t.Fatal(err)
	}
	return string(def), spec
}

// destroyLibvirtDomainAtEnd destroys the test domain at the end of the
// test on whichever host it runs then: a failed test's guest goes before
// testbed/down (which would kill it anyway); a destroyed one is no longer
// found.
func destroyLibvirtDomainAtEnd(t *testing.T, env Env) {
	t.Cleanup(func() {
		for _, h := range []string{"hostA", "hostB"} {
			if out, err := exec.Command("virsh", "-c", libvirt.URI(env.LibvirtSocket(h)), "destroy", libvirtDomain).CombinedOutput(); err == nil {
				t.Logf("%s: %s", h, bytes.TrimSpace(out))
			}
		}
	})
}

// libvirtConsole is the test domain's serial console file: in the run dir,
// which every daemon's QEMU sees at the same path, so that a migrated
// guest writes on where it left off.
func libvirtConsole(env Env) string { return filepath.Join(env.RunDir, libvirtDomain+".console") }

// guestRAM checks, over QMP, that the domain's QEMU gives the guest
// exactly migrator/vm's padded TCG RAM (not libvirt's whole MiB) in the
// RAM block libvirt.RAMBackendID, whose size is no multiple of 256 KiB,
// and that the balloon holds none of it.
func guestRAM(t *testing.T, l *golibvirt.Libvirt, dom golibvirt.Domain, spec api.VMSpec) {
	t.Helper()
	want := int64(vm.MemoryKiB(spec.MemoryMiB, vm.AccelTCG)) * 1024
	out, err := l.QEMUDomainMonitorCommand(dom, `{"execute":"query-memory-size-summary"}`, 0)
	if err != nil {
		t.Fatalf("query-memory-size-summary: %v", err)
	}
	var r struct {
		Return struct {
			Base int64 `json:"base-memory"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Return.Base != want {
		t.Fatalf("guest RAM: %s (%v), want base-memory %d", out, err, want)
	}
	out, err = l.QEMUDomainMonitorCommand(dom, `{"execute":"human-monitor-command","arguments":{"command-line":"info ramblock"}}`, 0)
	if err != nil {
		t.Fatalf("info ramblock: %v", err)
	}
	var hmp struct {
		Return string `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &hmp); err != nil {
		t.Fatalf("info ramblock: %v: %s", err, out)
	}
	block := ""
	for _, line := range strings.Split(hmp.Return, "\n") {
		if f := strings.Fields(line); len(f) == 6 && f[0] == libvirt.RAMBackendID {
			block = f[4] // Used
		}
	}
	if used, err := strconv.ParseInt(strings.TrimPrefix(block, "0x"), 16, 64); err != nil || used != want || used%(256<<10) == 0 {
		t.Fatalf("RAM block %s used %q, want %#x (no multiple of 256 KiB):\n%s", libvirt.RAMBackendID, block, want, hmp.Return)
	}
	// libvirt's balloon target is its rounded <memory>, above the RAM:
	// the balloon takes nothing.
	out, err = l.QEMUDomainMonitorCommand(dom, `{"execute":"query-balloon"}`, 0)
	var b struct {
		Return struct {
			Actual int64 `json:"actual"`
		} `json:"return"`
	}
	if err != nil || json.Unmarshal([]byte(out), &b) != nil || b.Return.Actual != want {
		t.Fatalf("query-balloon: %s (%v), want actual %d", out, err, want)
	}
	t.Logf("guest RAM %d KiB in RAM block %s, all of it the guest's (balloon)", want>>10, libvirt.RAMBackendID)
}

// upLibvirtTestbed brings a fresh testbed up with a libvirtd per host (and
// an agent per host if agents) and tears it down at the end, checking that
// nothing of it is left.
func upLibvirtTestbed(t *testing.T, env Env, hosts int, agents bool) {
	t.Helper()
	ctx := context.Background()
	if out, err := env.Down(ctx); err != nil {
		t.Fatalf("down before up: %v\n%s", err, out)
	}
	out, err := env.UpLibvirt(ctx, hosts, agents)
	// Registered before the check: a half-made testbed goes too.
	t.Cleanup(func() {
		if logsWanted(t) {
			keepLibvirtLogs(t, env)
		}
		downLeavesNothing(t, env)
		if pids, _ := LibvirtdProcesses(); len(pids) > 0 {
			t.Errorf("libvirtd processes left after down: %v", pids)
		}
		if pids := domainQEMUs(); len(pids) > 0 {
			t.Errorf("qemu processes of domain %s left after down: %v", libvirtDomain, pids)
		}
		for _, p := range []string{"/run/libvirt", "/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt", "/etc/libvirt", "/etc/pki"} {
			if _, err := os.Stat(filepath.Join(p, ".nfhandoff-mountpoint")); err == nil {
				t.Errorf("mount point %s that testbed/up made is left after down", p)
			}
		}
	})
	if err != nil {
		t.Fatalf("testbed up --libvirt: %v", err)
	}
	t.Logf("testbed up --libvirt:\n%s", out)
}

// noLibvirtNetwork fails t if libvirtd listens on anything in network
// namespace ns ("" for the root one) but its UNIX sockets and, when tlsAddr
// is set, libvirt's TLS port on tlsAddr (which it must then listen on), or
// if libvirt's default network (virbr0, 192.168.122.0/24) shows up there:
// testbed traffic stays in 198.18.0.0/15 and loopback.
func noLibvirtNetwork(t *testing.T, ns, tlsAddr string) {
	t.Helper()
	where, ssArgs, ipArgs := "the root netns", []string{"-Hltunp"}, []string{"-o", "addr"}
	if ns != "" {
		where, ssArgs, ipArgs = ns, append(ssArgs, "-N", ns), append([]string{"-n", ns}, ipArgs...)
	}
	ss, err := exec.Command("ss", ssArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("ss in %s: %v %s", where, err, ss)
	}
	tls := false
	for _, line := range strings.Split(string(ss), "\n") {
		if !strings.Contains(line, "libvirtd") {
			continue
		}
		// Netid State Recv-Q Send-Q Local Peer Process
		f := strings.Fields(line)
		if tlsAddr != "" && len(f) > 4 && f[0] == "tcp" && f[4] == tlsAddr+":16514" {
			tls = true
			continue
		}
		t.Errorf("libvirtd listens on TCP or UDP in %s: %s", where, line)
	}
	if tlsAddr != "" && !tls {
		t.Errorf("libvirtd does not listen for TLS on %s:16514 in %s:\n%s", tlsAddr, where, ss)
	}
	addrs, err := exec.Command("ip", ipArgs...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr in %s: %v %s", where, err, addrs)
	}
	if strings.Contains(string(addrs), "virbr") || strings.Contains(string(addrs), "192.168.122.") {
		t.Errorf("libvirt's default network in %s:\n%s", where, addrs)
	}
}

// keepLibvirtLogs keeps the daemons' logs, the guests' QEMU logs and
// consoles of a failed test (see keepLogs).
func keepLibvirtLogs(t *testing.T, env Env) {
	t.Helper()
	var files []string
	for _, g := range []string{"*/migratord.log", "*/libvirt/libvirtd.log", "*/libvirt/log/*", "*/libvirt/log/qemu/*"} {
		m, _ := filepath.Glob(filepath.Join(env.RunDir, g))
		for _, f := range m {
			if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
				files = append(files, f)
			}
		}
	}
	dir, err := keepLogs(t.Name(), env.RunDir, files)
	if err != nil {
		t.Logf("keeping libvirt's logs: %v", err)
		return
	}
	t.Logf("libvirtd's, QEMU's and the console's logs of this test: %s", dir)
}

func dialLibvirt(ctx context.Context, t *testing.T, env Env, host string) *golibvirt.Libvirt {
	t.Helper()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := libvirt.Dial(dctx, env.LibvirtSocket(host))
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	t.Cleanup(func() { l.Disconnect() })
	return l
}

// hostUUID is the host UUID a daemon reports in its capabilities.
func hostUUID(t *testing.T, l *golibvirt.Libvirt) string {
	t.Helper()
	caps, err := l.ConnectGetCapabilities()
	if err != nil {
		t.Fatalf("capabilities: %v", err)
	}
	var c struct {
		UUID string `xml:"host>uuid"`
	}
	if err := xml.Unmarshal([]byte(caps), &c); err != nil || c.UUID == "" {
		t.Fatalf("capabilities' host UUID (%v): %s", err, caps)
	}
	return c.UUID
}

// domainPID is the test domain's QEMU pid, from the pid file libvirt keeps
// in host's state dir (/run/libvirt/qemu inside the daemon's mounts).
func domainPID(t *testing.T, env Env, host string) int {
	t.Helper()
	f := filepath.Join(env.LibvirtDir(host), "run", "qemu", libvirtDomain+".pid")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatalf("domain's pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !Alive(pid) {
		t.Fatalf("domain's pid file %s: %q (%v), not a live process", f, b, err)
	}
	return pid
}

// inNamespace fails t unless pid runs in the named network namespace.
func inNamespace(t *testing.T, pid int, ns string) {
	t.Helper()
	var want, got syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		t.Fatalf("netns %s: %v", ns, err)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
		t.Fatalf("netns of pid %d: %v", pid, err)
	}
	if got.Ino != want.Ino || got.Dev != want.Dev {
		t.Fatalf("pid %d is not in netns %s", pid, ns)
	}
}

func processArgs(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("command line of pid %d: %v", pid, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// argAfter is the argument after the first flag in args ("" if none).
func argAfter(args []string, flag string) string {
	for i, a := range args[:max(len(args)-1, 0)] {
		if a == flag {
			return args[i+1]
		}
	}
	return ""
}

// domainQEMUs lists the live QEMUs of the test's domain, wherever they run.
func domainQEMUs() []int {
	pids, _ := QEMUProcesses()
	var ours []int
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(b), "guest="+libvirtDomain+",") {
			ours = append(ours, pid)
		}
	}
	return ours
}

// vnfAnswers polls the guest's status port from the client namespace until
// it answers (the guest has booted, its vnf runs), up to within.
func vnfAnswers(ctx context.Context, t *testing.T, env Env, within time.Duration) vnfproto.Status {
	t.Helper()
	addr := netip.MustParseAddrPort(guestIP + ":" + strconv.Itoa(vnfproto.Port))
	deadline := time.Now().Add(within)
	for {
		var st vnfproto.Status
		err := InNetns("nfh-client", func() error {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var err error
			st, err = vnfproto.Query(qctx, addr)
			return err
		})
		if err == nil {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(libvirtConsole(env))
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Fatalf("vnf not answering %s from the client after %s: %v\nconsole tail:\n%s", addr, within, err, b)
		}
		time.Sleep(200 * time.Millisecond) // an error can come at once (no ARP answer yet)
	}
}

// waitExited waits until pid has exited (or is a zombie), up to within.
func waitExited(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for Alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("qemu pid %d still alive %s after destroy", pid, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
