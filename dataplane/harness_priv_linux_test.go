package dataplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// Privileged tests of the whole dataplane run in a child process started
// with `ip netns exec` in a fresh "host" namespace (every goroutine of the
// dataplane then sees that namespace); the parent builds and deletes the
// namespaces and a private bpffs.

const childEnv = "DPT_CHILD"

var (
	vmMAC     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc1}
	testSpec  = api.VMSpec{Name: "dpt-vm", MAC: vmMAC.String(), Address: "198.18.7.10/24"}
)

const testEtherType = 0x88b6

// Frame tags in the test payload.
const (
	tagClient = 'C'
	tagFlush  = 'F'
)

func isChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// bed is the parent's topology: a host netns with a bridge br0 and a veth
// to a client netns (vc, clientMAC), and a private bpffs.
type bed struct {
	host, client, bpffs, dir string
}

func newBed(t *testing.T) *bed {
	t.Helper()
	privtest.RequireRoot(t)
	privtest.RequireCommand(t, "ip", "bridge", "ping", "sysctl", "mount")
	id := rand.Uint32()
	b := &bed{host: fmt.Sprintf("dpt-h%08x", id), client: fmt.Sprintf("dpt-c%08x", id), dir: t.TempDir()}
	b.bpffs = filepath.Join(b.dir, "bpffs")
	run(t, "ip", "netns", "add", b.host)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b.host).Run() })
	run(t, "ip", "netns", "add", b.client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b.client).Run() })
	run(t, "mkdir", "-p", b.bpffs)
	run(t, "mount", "-t", "bpf", "bpf", b.bpffs)
	t.Cleanup(func() { exec.Command("umount", "-l", b.bpffs).Run() })
	for _, ns := range []string{b.host, b.client} { // no IPv6 chatter in the frame counts
		run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	run(t, "ip", "-n", b.host, "link", "set", "lo", "up")
	run(t, "ip", "-n", b.host, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", b.host, "link", "set", "br0", "up")
	run(t, "ip", "-n", b.host, "link", "add", "vb", "type", "veth", "peer", "name", "vc", "netns", b.client)
	run(t, "ip", "-n", b.host, "link", "set", "vb", "master", "br0", "up")
	run(t, "ip", "-n", b.client, "link", "set", "vc", "address", clientMAC.String(), "up")
	waitPortForwarding(t, b.host, "vb")
	return b
}

// waitPortForwarding waits until bridge port dev in ns forwards. vb is up
// before its peer vc: its carrier change, queue activation and port enabling
// run later in the kernel's linkwatch work, which waits for RTNL (held for
// long by netns teardowns); frames sent meanwhile are lost.
func waitPortForwarding(t *testing.T, ns, dev string) {
	t.Helper()
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var err error
		out, err = exec.Command("bridge", "-n", ns, "-j", "link", "show", "dev", dev).CombinedOutput()
		if err != nil {
			t.Fatalf("bridge link show dev %s: %v\n%s", dev, err, out)
		}
		if bytes.Contains(out, []byte(`"state":"forwarding"`)) {
			return
		}
	}
	t.Fatalf("bridge port %s in %s never forwarded: %s", dev, ns, out)
}

// waitPing waits until ns reaches ip (a readiness check of a routed link).
func waitPing(t *testing.T, ns, ip string) {
	t.Helper()
	var out []byte
	var err error
	for range 20 {
		if out, err = exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip).CombinedOutput(); err == nil {
			return
		}
	}
	t.Fatalf("%s never reached %s: %v\n%s", ns, ip, err, out)
}

// runChild runs this test's body in netns ns and fails t if it fails.
func runChild(t *testing.T, ns string, env ...string) {
	t.Helper()
	cmd := childCmd(t, ns, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("child in %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("child in %s: %v", ns, err)
	}
}

func childCmd(t *testing.T, ns string, env ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+t.Name()), env...)
	return cmd
}

// openTap creates the non-persistent tap name (IFF_TAP|IFF_NO_PI,
// non-blocking: QEMU's way), enslaved to master and up.
func openTap(t *testing.T, name, master string) *os.File {
	t.Helper()
	f := privtest.OpenTap(t, name, true)
	privtest.LinkUp(t, name, master)
	return f
}

// tapReader stands in for QEMU: it reads the tap, keeping the test frames
// (and TCP segments, see parseTCPSegment);
// paused, it reads nothing (the guest is stopped).
type tapReader struct {
	f      *os.File
	mu     sync.Mutex
	got    []string // "C17", "F3"
	paused bool
	parked chan struct{} // closed by the loop when it sees paused
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newTapReader(f *os.File) *tapReader {
	r := &tapReader{f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *tapReader) loop() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		r.mu.Lock()
		paused := r.paused
		if paused && r.parked != nil {
			close(r.parked) // no read in progress until unpaused
			r.parked = nil
		}
		r.mu.Unlock()
		if paused {
			time.Sleep(time.Millisecond)
			continue
		}
		r.f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := r.f.Read(buf)
		if err != nil {
			continue
		}
		if tag, seq, ok := parseTestFrame(buf[:n]); ok {
			r.mu.Lock()
			r.got = append(r.got, fmt.Sprintf("%c%d", tag, seq))
			r.mu.Unlock()
		} else if seg, ok := parseTCPSegment(buf[:n]); ok {
			r.mu.Lock()
			r.got = append(r.got, seg)
			r.mu.Unlock()
		}
	}
}

// pause(true) returns once the reader has stopped reading (its read in
// progress, if any, has ended).
func (r *tapReader) pause(p bool) {
	r.mu.Lock()
	r.paused = p
	var parked chan struct{}
	if p {
		parked = make(chan struct{})
		r.parked = parked
	}
	r.mu.Unlock()
	if parked != nil {
		select {
		case <-parked:
		case <-r.done:
		}
	}
}

func (r *tapReader) frames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// waitFor waits until the reader has n frames (or fails t).
func (r *tapReader) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.frames(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := r.frames()
	t.Fatalf("tap got %d frames, want %d: %v", len(got), n, got)
	return nil
}

func (r *tapReader) close() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func testFrame(dst net.HardwareAddr, tag byte, seq int) []byte {
	f := make([]byte, 60)
	copy(f[0:], dst)
	copy(f[6:], clientMAC)
	binary.BigEndian.PutUint16(f[12:], testEtherType)
	copy(f[14:], "DPT")
	f[17] = tag
	binary.BigEndian.PutUint32(f[18:], uint32(seq))
	return f
}

func parseTestFrame(b []byte) (tag byte, seq int, ok bool) {
	if len(b) < 22 || binary.BigEndian.Uint16(b[12:]) != testEtherType || !bytes.Equal(b[14:17], []byte("DPT")) {
		return 0, 0, false
	}
	return b[17], int(binary.BigEndian.Uint32(b[18:])), true
}

// sender sends test frames from the client netns's vc, to dst (vmMAC
// when nil).
type sender struct {
	fd  int
	ifi int
	seq int
	dst net.HardwareAddr
}

func newSender(t *testing.T, ns, dev string) *sender {
	t.Helper()
	fd, ifi := packetSocket(t, ns, dev, false)
	return &sender{fd: fd, ifi: ifi}
}

// packetSocket opens a raw packet socket bound to dev in netns ns (with a
// virtio-net header on every frame sent if vnetHdr) and returns it and
// dev's ifindex.
func packetSocket(t *testing.T, ns, dev string, vnetHdr bool) (fd, ifindex int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if vnetHdr {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
	return fd, ifi.Index
}

// send sends n client frames to the VM with the next sequence numbers.
func (s *sender) send(n int) error {
	dst := s.dst
	if dst == nil {
		dst = vmMAC
	}
	for range n {
		s.seq++
		f := testFrame(dst, tagClient, s.seq)
		if err := unix.Sendto(s.fd, f, 0, &unix.SockaddrLinklayer{Ifindex: s.ifi, Halen: 6}); err != nil {
			return fmt.Errorf("sending frame %d: %w", s.seq, err)
		}
	}
	return nil
}

func (s *sender) mustSend(t *testing.T, n int) {
	t.Helper()
	if err := s.send(n); err != nil {
		t.Fatal(err)
	}
}

// background sends a frame every interval until the returned stop is
// called; stop returns the last sequence number sent.
func (s *sender) background(t *testing.T, interval time.Duration) (stop func() int) {
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-quit:
				done <- nil
				return
			case <-tk.C:
				if err := s.send(1); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	return func() int {
		close(quit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return s.seq
	}
}

// pipeStream is a handoff.Stream reading from an io.Pipe.
type pipeStream struct{ *io.PipeReader }

func (pipeStream) Write(p []byte) (int, error) { return 0, errors.New("read-only") }
func (pipeStream) CloseWrite() error           { return nil }

var _ handoff.Stream = pipeStream{}

// flushStream returns a stream carrying n flush frames (tag F, 1..n).
func flushStream(n int) pipeStream {
	pr, pw := io.Pipe()
	go func() {
		w := frame.NewFlushWriter(pw, 0)
		for i := 1; i <= n; i++ {
			if err := w.WriteFrame(frame.OriginBuffered, testFrame(vmMAC, tagFlush, i)); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(w.Close())
	}()
	return pipeStream{pr}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// childHandoff (in a child) is childSetup plus the hand-off and a sender
// in the client namespace (veth "vc").
func childHandoff(t *testing.T, cfg Config) (*Dataplane, handoff.Tap, *tapReader, *Handoff, *sender) {
	t.Helper()
	d, tap, r := childSetup(t, cfg)
	return d, tap, r, d.Handoff(), newSender(t, os.Getenv("DPT_CLIENT"), "vc")
}

// holding (in a child) is childHandoff with the hand-off prepared (HOLD)
// and n client frames sent and captured.
func holding(t *testing.T, cfg Config, n int) (*Dataplane, *tapReader, *Handoff, *sender) {
	t.Helper()
	d, _, r, h, s := childHandoff(t, cfg)
	if err := h.Prepare(context.Background(), testSpec); err != nil {
		t.Fatal(err)
	}
	s.mustSend(t, n)
	waitCaptured(t, d, uint64(n))
	return d, r, h, s
}

// childSetup makes the child's dataplane (pins under $DPT_BPFFS/name) and
// its tap dt0 on br0 with a reader.
func childSetup(t *testing.T, cfg Config) (*Dataplane, handoff.Tap, *tapReader) {
	t.Helper()
	if cfg.PinDir == "" {
		cfg.PinDir = filepath.Join(os.Getenv("DPT_BPFFS"), "host")
	}
	cfg.Logger = testLogger(t)
	f := openTap(t, "dt0", "br0")
	ifi, err := net.InterfaceByName("dt0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tap := handoff.Tap{Name: "dt0", Ifindex: ifi.Index, File: f}
	if err := d.Handoff().Attach(context.Background(), testSpec, tap); err != nil {
		t.Fatal(err)
	}
	r := newTapReader(f)
	t.Cleanup(r.close)
	return d, tap, r
}

// wantSeq checks got is exactly want.
func wantSeq(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("tap frames\n got %v\nwant %v", got, want)
	}
}

func seqs(tag byte, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%c%d", tag, i))
	}
	return out
}

// waitMode waits until the VM's entry is in mode.
func waitMode(t *testing.T, d *Dataplane, m mode, poke func()) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, ok, err := d.maps.state(keyOf(vmMAC))
		if err == nil && ok && st.Mode == m {
			return
		}
		if poke != nil {
			poke()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("vm never reached mode %s", m)
}

// lockedBuf is a bytes.Buffer safe for a child's stdout and stderr.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
