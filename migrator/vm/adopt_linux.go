package vm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// Adopt re-attaches to a guest that kept running while the agent was away:
// it checks that rec.PID is still the QEMU of rec (by its command line),
// reconnects QMP and recovers the tap descriptors from QEMU (pidfd_getfd:
// NIC i's tap is QEMU's fd 3+i).
// Nothing the guest uses is reopened or changed. If the guest is gone the
// error wraps ErrGone; call Cleanup then.
func (l *Launcher) Adopt(ctx context.Context, rec api.VM) (*Instance, error) {
	name := rec.Spec.Name
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("adopting: bad vm name %q", name)
	}
	p := vmPaths(l.cfg.StateDir, name)
	if rec.QMPSocket != "" && rec.QMPSocket != p.QMP {
		return nil, fmt.Errorf("adopting %s: qmp socket %s is not under the state dir (%s)", name, rec.QMPSocket, p.QMP)
	}
	rec.Tap, rec.Taps = adoptedTapNames(rec)
	log := l.log.With("vm", name)
	pidfd, err := openPidfd(rec.PID, name, p.QMP)
	if err != nil {
		return nil, fmt.Errorf("adopting %s: %w", name, err)
	}
	var pidfdMu sync.Mutex
	closePidfd := func() {
		pidfdMu.Lock()
		if pidfd >= 0 {
			unix.Close(pidfd)
			pidfd = -1
		}
		pidfdMu.Unlock()
	}
	taps := l.adoptTaps(log, pidfd, rec)
	// A QEMU that keeps our out-of-band connection was the destination of
	// a post-copy: its main thread may wait for a page that only a
	// recovery (out of band) brings, so it is adopted without QMP's
	// handshake if that does not come soon (QMP follows, DialLater), and
	// the recovery is not kept waiting.
	kept, _ := keptOOBFD(p, rec.PID)
	wait := 10 * time.Second
	if kept >= 0 {
		wait = 2 * time.Second
	}
	dctx, cancel := bounded(ctx, wait)
	mon, err := qmpx.Dial(dctx, p.QMP, log)
	cancel()
	lateQMP := false
	if err != nil && kept >= 0 && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		log.Warn("qemu's main thread does not answer (an incoming post-copy waits for a page?): adopted through the kept out-of-band connection; qmp connects once it answers", "err", err)
		mon, err, lateQMP = qmpx.DialLater(p.QMP, log), nil, true
	}
	if err != nil {
		closeTaps(taps)
		closePidfd()
		if alive, _ := isOurQEMU(rec.PID, name, p.QMP); !alive {
			return nil, fmt.Errorf("adopting %s: %w: exited during adoption", name, ErrGone)
		}
		return nil, fmt.Errorf("adopting %s: %w", name, err)
	}

	waitFd := pidfd
	inst := &Instance{
		l: l, log: log, p: p, taps: taps, mon: mon,
		done: make(chan struct{}),
		kill: func() error {
			pidfdMu.Lock()
			defer pidfdMu.Unlock()
			if pidfd < 0 {
				return nil
			}
			err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			if errors.Is(err, unix.ESRCH) {
				return nil
			}
			return err
		},
	}
	rec.State = api.StateRunning
	rec.Host = l.cfg.Host
	rec.QMPSocket, rec.ConsoleLog = p.QMP, p.Console
	rec.Adopted = true
	rec.Reason = ""
	inst.rec = rec
	go func() {
		if err := waitPidfd(waitFd); err != nil {
			log.Error("waiting for adopted qemu", "err", err)
		}
		closePidfd()
		inst.exited("")
	}()

	status := "unknown: qmp not connected yet"
	if !lateQMP {
		qctx, qcancel := bounded(ctx, 10*time.Second)
		status, err = inst.QueryStatus(qctx)
		qcancel()
	}
	if err != nil {
		mon.Close()
		closeTaps(taps)
		select {
		case <-inst.done:
			return nil, fmt.Errorf("adopting %s: %w: %s", name, ErrGone, inst.ExitReason())
		default:
		}
		return nil, fmt.Errorf("adopting %s: %w", name, err)
	}
	recovered := 0
	for _, t := range taps {
		if t.File != nil {
			recovered++
		}
	}
	log.Info("adopted running qemu", "pid", rec.PID, "status", status, "taps", rec.AllTaps(), "tap_fds", recovered)
	return inst, nil
}

// adoptedTapNames are the taps a record's guest has, one per NIC of its
// spec: those the record names, else what Start names them (records
// written before they were kept).
func adoptedTapNames(rec api.VM) (string, []string) {
	var more []string
	for i := range rec.Spec.NICs {
		name := NICTapName(rec.Spec.Name, i+1)
		if i < len(rec.Taps) && rec.Taps[i] != "" {
			name = rec.Taps[i]
		}
		more = append(more, name)
	}
	if rec.Tap == "" {
		return TapName(rec.Spec.Name), more
	}
	return rec.Tap, more
}

// adoptTaps recovers the adopted guest's taps: our descriptor of each from
// QEMU's fd 3+i and its interface index. What cannot be recovered is
// logged and left out (a nil File, a zero Ifindex): the guest runs on.
func (l *Launcher) adoptTaps(log *slog.Logger, pidfd int, rec api.VM) []handoff.Tap {
	var taps []handoff.Tap
	for i, name := range rec.AllTaps() {
		t := handoff.Tap{NIC: i, Name: name}
		f, err := tapFromProcess(pidfd, rec.PID, tapFD(i), name)
		if err != nil {
			log.Warn("could not recover a tap descriptor; residual packets cannot be read", "tap", name, "err", err)
		}
		t.File = f
		if err := l.inNetns(func() error {
			var err error
			t.Ifindex, err = tapIfindex(name)
			return err
		}); err != nil {
			log.Warn("tap index unknown", "tap", name, "err", err)
		}
		taps = append(taps, t)
	}
	return taps
}

// Cleanup removes what a guest left behind: its taps and per-VM files. If
// its QEMU is somehow still running (same pid and command line) it is
// killed first, so afterwards nothing of the guest remains. Idempotent.
func (l *Launcher) Cleanup(ctx context.Context, rec api.VM) error {
	name := rec.Spec.Name
	if !nameRE.MatchString(name) {
		return fmt.Errorf("cleanup: bad vm name %q", name)
	}
	p := vmPaths(l.cfg.StateDir, name)
	if rec.PID > 0 {
		if pidfd, err := openPidfd(rec.PID, name, p.QMP); err == nil {
			l.log.Warn("cleanup: qemu still running, killing it", "vm", name, "pid", rec.PID)
			unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
			wctx, cancel := bounded(ctx, 10*time.Second)
			err := waitPidfdCtx(wctx, pidfd)
			cancel()
			unix.Close(pidfd)
			if err != nil {
				return fmt.Errorf("cleanup %s: qemu pid %d did not die: %w", name, rec.PID, err)
			}
		}
	}
	var errs []error
	var taps []string
	for i := range rec.Spec.AllNICs() {
		taps = append(taps, NICTapName(name, i))
	}
	if err := l.deleteTaps(taps); err != nil {
		errs = append(errs, err)
	}
	for i, t := range rec.AllTaps() {
		if want := NICTapName(name, i); t != "" && t != want {
			errs = append(errs, fmt.Errorf("record names tap %s, expected %s: left alone", t, want))
		}
	}
	if err := removeVMDir(p.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup %s: %w", name, err)
	}
	return nil
}

// waitPidfdCtx waits for the process behind pidfd to exit, until ctx ends.
func waitPidfdCtx(ctx context.Context, pidfd int) error {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 50)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if n > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
