package session

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSocketDepth: deepen raises a socket's send buffer to
// qemuSocketDepth, commit gives it back, and a socket connected after
// Commit keeps the kernel's default.
func TestSocketDepth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SO_SNDBUFFORCE needs root")
	}
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func() *net.UnixConn {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	sndbuf := func(c *net.UnixConn) (n int) {
		sockControl(c, func(fd int) { n, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF) })
		return n
	}
	var d socketDepth
	a := dial()
	orig := sndbuf(a)
	d.deepen(a)
	if got := sndbuf(a); got != 2*qemuSocketDepth {
		t.Errorf("deepened: send buffer %d, want %d (from %d)", got, 2*qemuSocketDepth, orig)
	}
	d.commit()
	if got := sndbuf(a); got != orig {
		t.Errorf("after commit: send buffer %d, want %d again", got, orig)
	}
	b := dial()
	d.deepen(b)
	if got := sndbuf(b); got != orig {
		t.Errorf("connected after commit: send buffer %d, want the default %d", got, orig)
	}
	d.deepen(nil) // not a unix socket: nothing
}
