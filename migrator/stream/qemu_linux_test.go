package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// guestMiB is the test guest's RAM: the Debian kernel does not boot in less.
const guestMiB = 256

// testQEMU is a QEMU process of an integration test: the vnf guest with
// one user-mode NIC whose UDP echo port (7) is forwarded to echoPort on
// the host loopback, so a test can tell the guest runs without a netns.
type testQEMU struct {
	name     string
	cmd      *exec.Cmd
	exited   chan struct{}
	mon      *qmpx.Monitor
	console  string
	echoPort int
}

// imageDir finds the vnf guest image: $NFH_IMAGE_DIR or build/images at
// the repository root.
func imageDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NFH_IMAGE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "images")
	}
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if _, err := os.Stat(filepath.Join(dir, "vnf", f)); err != nil {
			privtest.Unavailable(t, "no guest image (make image, or set NFH_IMAGE_DIR): %v", err)
		}
	}
	return dir
}

// startQEMU starts a guest (incoming: waiting for migrate-incoming) and
// connects to its QMP socket. The test's cleanup ends it.
func startQEMU(ctx context.Context, t *testing.T, dir, name string, incoming bool) *testQEMU {
	t.Helper()
	img := filepath.Join(imageDir(t), "vnf")
	q := &testQEMU{name: name, exited: make(chan struct{}), console: filepath.Join(dir, name+".console"), echoPort: freeUDPPort(t)}
	qmpSock := filepath.Join(dir, name+".qmp")
	args := []string{
		"-name", "nfh-stream-test-" + name,
		"-machine", "pc-i440fx-7.2", "-accel", "tcg", "-cpu", "qemu64",
		// 8 KiB more than the round size, as migrator/vm does: QEMU 7.2
		// loses dirty pages under TCG on blocks of a multiple of 256 KiB.
		"-m", strconv.Itoa(guestMiB*1024+8) + "k",
		"-smp", "1,maxcpus=2",
		"-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
		"-kernel", filepath.Join(img, "vmlinuz"), "-initrd", filepath.Join(img, "initrd.img"),
		// A working set of random pages, some rewritten during the migration.
		"-append", "console=ttyS0 panic=-1 nfh.ip=10.0.2.15/24 nfh.vnf=--wss=24,--dirty-rate=1,--kernel-reflector=off",
		"-chardev", "file,id=con0,path=" + q.console, "-serial", "chardev:con0",
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=udp:127.0.0.1:%d-10.0.2.15:7", q.echoPort),
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=",
		"-qmp", "unix:" + qmpSock + ",server=on,wait=off",
		"-no-reboot",
	}
	if incoming {
		args = append(args, "-incoming", "defer")
	}
	stderr, err := os.Create(filepath.Join(dir, name+".stderr"))
	if err != nil {
		t.Fatal(err)
	}
	q.cmd = exec.Command("qemu-system-x86_64", args...)
	q.cmd.Stdout, q.cmd.Stderr = stderr, stderr
	if err := q.cmd.Start(); err != nil {
		stderr.Close()
		t.Fatalf("starting %s QEMU: %v", name, err)
	}
	go func() { q.cmd.Wait(); stderr.Close(); close(q.exited) }()
	t.Cleanup(func() { q.stop(t) })
	for {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		q.mon, err = qmpx.Dial(dctx, qmpSock, nil)
		cancel()
		if err == nil {
			return q
		}
		select {
		case <-q.exited:
			b, _ := os.ReadFile(filepath.Join(dir, name+".stderr"))
			t.Fatalf("%s QEMU exited: %s", name, b)
		case <-ctx.Done():
			t.Fatalf("%s QEMU: no QMP: %v", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends QEMU: quit, then SIGKILL if it lingers.
func (q *testQEMU) stop(t *testing.T) {
	if q.mon != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		q.mon.Execute(ctx, qmpcmd.Quit, nil, nil)
		cancel()
		q.mon.Close()
	}
	select {
	case <-q.exited:
	case <-time.After(5 * time.Second):
		q.cmd.Process.Kill()
		<-q.exited
	}
}

func (q *testQEMU) exec(ctx context.Context, t *testing.T, cmd string, args, out any) {
	t.Helper()
	if err := q.mon.Execute(ctx, cmd, args, out); err != nil {
		t.Fatalf("%s: %s: %v", q.name, cmd, err)
	}
}

// waitConsole waits for marker on the guest's console.
func (q *testQEMU) waitConsole(ctx context.Context, marker string) error {
	for {
		b, _ := os.ReadFile(q.console)
		if strings.Contains(string(b), marker) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s console never showed %q: %w\n%s", q.name, marker, ctx.Err(), b[max(0, len(b)-2000):])
		case <-q.exited:
			return fmt.Errorf("%s QEMU exited", q.name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// echo waits until the guest's UDP echo server answers through this
// QEMU's forwarded port: the guest runs here.
func (q *testQEMU) echo(ctx context.Context) error {
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(q.echoPort))
	if err != nil {
		return err
	}
	defer c.Close()
	msg := []byte("nfh-stream-test " + q.name)
	buf := make([]byte, 100)
	for ctx.Err() == nil {
		c.Write(msg)
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && string(buf[:n]) == string(msg) {
			return nil
		}
	}
	return errors.Join(fmt.Errorf("%s: no echo from the guest", q.name), ctx.Err())
}

// freeUDPPort is a loopback UDP port nothing uses now.
func freeUDPPort(t *testing.T) int {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
