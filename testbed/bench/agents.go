package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/pki"
)

// quicPort is the agents' QUIC port, as on the testbed.
const quicPort = 7443

// agent is one migratord the bench runs in a host's namespace.
type agent struct {
	host   *Host
	pprof  string // its profile socket
	dir    string // runDir/agent-<host>: its state dir (vms/<name>/qemu.pid as killLeftovers expects)
	log    string // its stdout and stderr
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	client *api.Client
}

// agentFiles are the paths of one host's agent under runDir.
func agentFiles(runDir, host string) (dir, sock, log string) {
	return filepath.Join(runDir, "agent-"+host), filepath.Join(runDir, "agent-"+host+".sock"),
		filepath.Join(runDir, "agent-"+host+".log")
}

// pprofSocket is where host's agent serves its Go profiles.
func pprofSocket(runDir, host string) string {
	return filepath.Join(runDir, "agent-"+host+".pprof")
}

// agentArgs is migratord's command line for host h.
func agentArgs(runDir, imageDir, pkiDir string, h *Host) []string {
	dir, sock, _ := agentFiles(runDir, h.Name)
	return []string{
		"--name", h.Name, "--api", sock, "--state-dir", dir, "--image-dir", imageDir,
		"--bridge", bridge, "--network", "core=" + coreBridge + "," + coreUplink, "--accel", "tcg", "--accel-cache", filepath.Join(runDir, "accel.json"),
		"--quic-listen", netip.AddrPortFrom(h.Addr, quicPort).String(),
		"--peers", filepath.Join(runDir, "peers"),
		"--ca", filepath.Join(pkiDir, pki.CAFile),
		"--cert", filepath.Join(pkiDir, pki.CertFile(h.Name)),
		"--key", filepath.Join(pkiDir, pki.KeyFile(h.Name)),
		"--pprof-socket", pprofSocket(runDir, h.Name),
	}
}

// dataplaneArgs are the flags of host h's agent for the eBPF hand-off:
// stragglers taken on the uplink, pins under runDir/bpffs/<host>.
func dataplaneArgs(runDir string, h *Host) []string {
	return []string{"--uplink", uplink, "--bpf-pin-dir", pinDir(runDir, h)}
}

// pinDir is where host h's agent pins its maps and links.
func pinDir(runDir string, h *Host) string { return filepath.Join(bpffsDir(runDir), h.Name) }

// peersFile is the agents' peers file: every host's QUIC address.
func peersFile(hosts []*Host) []byte {
	var b bytes.Buffer
	b.WriteString("# nfhandoff bench agents\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s %s\n", h.Name, netip.AddrPortFrom(h.Addr, quicPort))
	}
	return b.Bytes()
}

// agentPKI makes a CA and one certificate per host (CN and SAN DNS = host
// name, SAN IP = its address) under runDir/agent-pki, and the peers file.
func agentPKI(runDir string, hosts []*Host) (string, error) {
	dir := filepath.Join(runDir, "agent-pki")
	if err := pki.NewCA(dir, "nfb bench agents CA", 24*time.Hour); err != nil {
		return "", fmt.Errorf("agent CA: %w", err)
	}
	for _, h := range hosts {
		if err := pki.Issue(dir, h.Name, []net.IP{h.Addr.AsSlice()}, 24*time.Hour); err != nil {
			return "", fmt.Errorf("certificate for %s: %w", h.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(runDir, "peers"), peersFile(hosts), 0o644); err != nil {
		return "", fmt.Errorf("writing peers file: %w", err)
	}
	return dir, nil
}

// startAgent runs bin in h's namespace, in its own process group (a
// Ctrl-C reaches the bench, which stops the agent in order), and waits
// until its API answers. The agents stay in the bench's session: with the
// kernel's autogroups on, a session is a scheduler group, and an agent in
// a session of its own (each QEMU has one: the launcher's setsid) ran less
// and waited more under a gang's load (2026-12-06, a gang of four,
// nfhandoff-gang, four moves each way: 42-60 s against 32-44 s, the
// source agent waiting 103-160 s against 45-63 s for a processor, the
// source QEMUs' vCPUs taking the difference).
func startAgent(ctx context.Context, bin, runDir, imageDir, pkiDir string, h *Host, extra []string) (*agent, error) {
	dir, sock, logPath := agentFiles(runDir, h.Name)
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	args := append([]string{"netns", "exec", h.Netns, bin}, agentArgs(runDir, imageDir, pkiDir, h)...)
	args = append(args, extra...)
	cmd := exec.Command("ip", args...) // ip execs bin: cmd.Process is migratord
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	a := &agent{host: h, pprof: pprofSocket(runDir, h.Name), dir: dir, log: logPath, cmd: cmd, done: make(chan struct{}), client: api.NewClient(sock)}
	if err := startHeld(cmd, a.done); err != nil {
		return nil, fmt.Errorf("starting migratord on %s: %w", h.Name, err)
	}
	go func() { cmd.Wait(); close(a.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		hl, err := a.client.Health(hctx)
		cancel()
		if err == nil {
			if hl.Host != h.Name {
				a.stop()
				return nil, fmt.Errorf("agent at %s says it is %q, not %s", sock, hl.Host, h.Name)
			}
			return a, nil
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("migratord on %s exited (%v):\n%s", h.Name, cmd.ProcessState, tail(logPath, 20))
		case <-ctx.Done():
			a.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("migratord on %s not answering after 30s: %v\n%s", h.Name, err, tail(logPath, 20))
		}
	}
}

// startHeld starts cmd from a locked thread that lives until done is
// closed: Pdeathsig fires when the parent *thread* ends, and Go ends
// threads whose locked goroutine exits, so an unlucky thread would kill the
// agent in mid-bench.
func startHeld(cmd *exec.Cmd, done <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-done
		}
	}()
	return <-errc
}

// stop stops the agent's guests through its API, then the agent: SIGTERM,
// SIGKILL after 10s. Guests it could not stop are killLeftovers' to end.
func (a *agent) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if vms, err := a.client.ListVMs(ctx); err == nil {
		for _, v := range vms {
			a.client.StopVM(ctx, v.Spec.Name)
		}
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
}

// tail is the last n lines of a file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, "  | "+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// killLeftoverAgents ends migratord processes an earlier, killed bench
// left running with state under runDir.
func killLeftoverAgents(runDir string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid <= 1 {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if isBenchAgent(args, runDir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// isBenchAgent reports whether a command line is a migratord of this
// bench: its --state-dir is an agent directory under runDir.
func isBenchAgent(args []string, runDir string) bool {
	if len(args) == 0 || filepath.Base(args[0]) != "migratord" {
		return false
	}
	for i, a := range args[:len(args)-1] {
		if a == "--state-dir" && strings.HasPrefix(args[i+1], filepath.Join(runDir, "agent-")) {
			return true
		}
	}
	return false
}
