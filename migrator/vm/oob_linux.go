package vm

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// The out-of-band QMP connection outlives the agent: QEMU keeps a
// descriptor of its client end (getfd, under oobKeepName), and the file
// oobKeepFile in the guest's directory names the socket's inode, by which a
// successor finds that descriptor among QEMU's and takes it back
// (pidfd_getfd). A new connection could not serve it: QMP negotiates in
// QEMU's main thread, which on the destination of a broken post-copy waits
// for a page that only the recovery brings.
const (
	oobKeepName = "nfh-oob"
	oobKeepFile = "oob.keep"
)

// DialOOB returns the guest's out-of-band QMP connection: the one an
// earlier run left with QEMU if there is one, else a new one on the
// guest's second QMP socket (guests started by older builds have none),
// handed to QEMU to keep (qmpx.NegotiateOOB). Release ends the keeping.
func (i *Instance) DialOOB(ctx context.Context) (*qmpx.OOB, error) {
	if o, err := i.keptOOB(); o != nil || err != nil {
		return o, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", i.p.OOB)
	if err != nil {
		return nil, fmt.Errorf("qmp oob: %w", err)
	}
	ino, err := socketInode(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("qmp oob: %w", err)
	}
	o, err := qmpx.NegotiateOOB(ctx, conn, oobKeepName)
	if err != nil {
		return nil, err
	}
	if !o.Kept() {
		i.log.Warn("qemu does not keep the out-of-band qmp connection: a restarted agent cannot reach a blocked qemu")
		return o, nil
	}
	if err := writeFileAtomic(filepath.Join(i.p.Dir, oobKeepFile), []byte(strconv.FormatUint(ino, 10)+"\n"), 0o600); err != nil {
		i.log.Warn("recording the kept out-of-band qmp connection", "err", err)
	}
	return o, nil
}

// keptOOB takes back the out-of-band connection QEMU keeps for an earlier
// run (nil, nil: none).
func (i *Instance) keptOOB() (*qmpx.OOB, error) {
	i.mu.Lock()
	pid, name := i.rec.PID, i.rec.Spec.Name
	i.mu.Unlock()
	fd, err := keptOOBFD(i.p, pid)
	if fd < 0 || err != nil {
		return nil, err
	}
	pidfd, err := openPidfd(pid, name, i.p.QMP)
	if err != nil {
		return nil, fmt.Errorf("qmp oob: taking the kept connection: %w", err)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, fmt.Errorf("qmp oob: taking the kept connection: pidfd_getfd: %w", err)
	}
	f := os.NewFile(uintptr(nfd), "oob")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("qmp oob: taking the kept connection: %w", err)
	}
	i.log.Info("out-of-band qmp connection taken back from qemu", "fd", fd)
	return qmpx.ResumeOOB(conn, oobKeepName), nil
}

// keptOOBFD is QEMU's descriptor of a kept out-of-band connection, -1 if
// it keeps none (a stale record of one is removed).
func keptOOBFD(p paths, pid int) (int, error) {
	path := filepath.Join(p.Dir, oobKeepFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) || pid <= 0 {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("qmp oob: %w", err)
	}
	want := "socket:[" + strings.TrimSpace(string(b)) + "]"
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1, fmt.Errorf("qmp oob: %w", err)
	}
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && t == want {
			return strconv.Atoi(e.Name())
		}
	}
	os.Remove(path) // released, or the inode of a connection long gone
	return -1, nil
}

// socketInode is the inode of conn's socket (what /proc/PID/fd shows).
func socketInode(conn net.Conn) (uint64, error) {
	sc, ok := conn.(syscallConner)
	if !ok {
		return 0, fmt.Errorf("%T has no descriptor", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
}

type syscallConner interface {
	SyscallConn() (syscall.RawConn, error)
}
