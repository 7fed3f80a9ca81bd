package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// Env locates what the testbed needs: the scripts, binaries and images.
type Env struct {
	Root     string // repository root
	BinDir   string // netctl, migratord, vnf (NFH_BIN, default <root>/build/bin)
	ImageDir string // guest images (NFH_IMAGE_DIR, default <root>/build/images)
	RunDir   string // agents' sockets and logs (NFH_RUN_DIR, default /run/nfhandoff)
	// AgentArgs are extra migratord arguments for every agent Up starts
	// (NFH_MIGRATORD_ARGS); HostArgs those for one host's agent only
	// (NFH_MIGRATORD_ARGS_<host>). Arguments must not contain whitespace.
	AgentArgs []string
	HostArgs  map[string][]string
}

// FindEnv walks up from the working directory to the repository root and
// fills the rest from the environment.
func FindEnv() (Env, error) {
	dir, err := os.Getwd()
	if err != nil {
		return Env{}, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return Env{}, fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
	e := Env{
		Root:      dir,
		BinDir:    envOr("NFH_BIN", filepath.Join(dir, "build", "bin")),
		ImageDir:  envOr("NFH_IMAGE_DIR", filepath.Join(dir, "build", "images")),
		RunDir:    envOr("NFH_RUN_DIR", "/run/nfhandoff"),
		AgentArgs: strings.Fields(os.Getenv("NFH_MIGRATORD_ARGS")),
	}
	return e, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Missing lists what the integration tier needs and cannot find.
func (e Env) Missing() []string {
	var miss []string
	for _, p := range []string{
		filepath.Join(e.BinDir, "netctl"),
		filepath.Join(e.BinDir, "migratord"),
		filepath.Join(e.ImageDir, "vnf", "vmlinuz"),
		filepath.Join(e.ImageDir, "vnf", "initrd.img"),
	} {
		if _, err := os.Stat(p); err != nil {
			miss = append(miss, p)
		}
	}
	return miss
}

// Script runs one of the testbed scripts with args and returns its combined
// output.
func (e Env) Script(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.Root, "testbed", name), args...)
	cmd.Env = append(os.Environ(), "NFH_RUN_DIR="+e.RunDir, "NFH_MIGRATORD_ARGS="+strings.Join(e.AgentArgs, " "))
	for h, a := range e.HostArgs {
		cmd.Env = append(cmd.Env, "NFH_MIGRATORD_ARGS_"+h+"="+strings.Join(a, " "))
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("testbed/%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// Up builds the topology with hosts agents-enabled hosts.
func (e Env) Up(ctx context.Context, hosts int) (string, error) {
	return e.Script(ctx, "up", "--hosts", fmt.Sprint(hosts), "--agents",
		"--image-dir", e.ImageDir, "--bin", e.BinDir)
}

// UpLibvirt builds the topology with hosts hosts and a libvirtd in each
// host namespace (testbed/up --libvirt), with or without agents.
func (e Env) UpLibvirt(ctx context.Context, hosts int, agents bool) (string, error) {
	args := []string{"--hosts", fmt.Sprint(hosts), "--libvirt", "--image-dir", e.ImageDir, "--bin", e.BinDir}
	if agents {
		args = append(args, "--agents")
	}
	return e.Script(ctx, "up", args...)
}

// LibvirtDir is the dir of host's libvirtd (testbed/libvirt.sh): its
// etc, run, lib, log and cache dirs, libvirtd.log and its socket.
func (e Env) LibvirtDir(host string) string { return filepath.Join(e.RunDir, host, "libvirt") }

// LibvirtSocket is the UNIX socket of host's libvirtd.
func (e Env) LibvirtSocket(host string) string {
	return filepath.Join(e.LibvirtDir(host), "libvirt-sock")
}

// HostAddr is host's address on the access segment (testbed/lib.sh's
// host_addr): hostA 198.18.0.11, hostB 198.18.0.12, and so on.
func (e Env) HostAddr(host string) string {
	if len(host) != 5 || !strings.HasPrefix(host, "host") || host[4] < 'A' || host[4] > 'Z' {
		panic(fmt.Sprintf("testbed: no host address for %q", host))
	}
	return fmt.Sprintf("198.18.0.%d", 11+int(host[4]-'A'))
}

// LibvirtTLSURI is the URI of host's libvirtd on libvirt's TLS, which it
// serves on its host's address only.
func (e Env) LibvirtTLSURI(host string) string {
	return "qemu+tls://" + e.HostAddr(host) + "/system"
}

// WithAgentArgs returns a copy of e whose agents (every one, or only
// host's when host is not empty) get args on their command line.
func (e Env) WithAgentArgs(host string, args ...string) Env {
	if host == "" {
		e.AgentArgs = append(append([]string(nil), e.AgentArgs...), args...)
		return e
	}
	hs := make(map[string][]string, len(e.HostArgs)+1)
	for h, a := range e.HostArgs {
		hs[h] = a
	}
	hs[host] = append(append([]string(nil), hs[host]...), args...)
	e.HostArgs = hs
	return e
}

// HasDataplane reports whether the migratord in BinDir has the eBPF
// hand-off (its --help mentions --bpf-pin-dir); testbed/up then mounts the
// bpffs and starts the agents with it.
func (e Env) HasDataplane() bool {
	out, _ := exec.Command(filepath.Join(e.BinDir, "migratord"), "--help").CombinedOutput()
	return bytes.Contains(out, []byte("-bpf-pin-dir"))
}

// Down removes everything the testbed made.
func (e Env) Down(ctx context.Context) (string, error) { return e.Script(ctx, "down") }

// Socket is the API socket of the agent on host.
func (e Env) Socket(host string) string { return filepath.Join(e.RunDir, host, "api.sock") }

// Netctl runs the netctl binary with args and returns stdout and stderr.
func (e Env) Netctl(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.BinDir, "netctl"), args...)
	cmd.Env = append(os.Environ(), "NFH_RUN_DIR="+e.RunDir)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("netctl %s: %w: %s", strings.Join(args, " "), err, s.String())
	}
	return o.String(), s.String(), err
}

// InNetns runs fn on an OS thread switched into the named network namespace.
// Sockets created inside fn stay in that namespace after fn returns.
func InNetns(name string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("getting current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening netns %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns %s: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: Go discards it when the goroutine ends,
		// so no other goroutine runs in the wrong namespace.
		return fmt.Errorf("leaving netns %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Namespaces lists the network namespaces carrying the project prefix.
func Namespaces() ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ours []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "nfh-") {
			ours = append(ours, e.Name())
		}
	}
	return ours, nil
}

// QEMUProcesses lists the pids of live qemu-system-* processes.
func QEMUProcesses() ([]int, error) { return processes("qemu-system") }

// LibvirtdProcesses lists the pids of live libvirtd processes.
func LibvirtdProcesses() ([]int, error) { return processes("libvirtd") }

// processes lists the pids of live processes whose name (comm) starts
// with prefix.
func processes(prefix string) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		if strings.HasPrefix(string(comm), prefix) && Alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Alive reports whether pid is a live process. A zombie (exited, waiting for
// its parent to reap it) counts as gone: orphaned guests are reaped by PID 1,
// which may take a moment.
func Alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// MountsUnder lists the mount points at or below dir (from
// /proc/self/mounts), such as a bpffs testbed/down failed to unmount.
func MountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if p := f[1]; p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out, nil
}
