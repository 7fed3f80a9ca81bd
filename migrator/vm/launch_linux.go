package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// Start creates the guest's taps (one per NIC, each on its network's
// bridge), boots QEMU in its own session and connects to its QMP socket.
// On failure nothing is left behind and the error wraps api.ErrQEMU with
// QEMU's stderr as an *api.DetailError (or api.ErrInvalidSpec, for a
// network this host lacks too, api.ErrNoImage, ErrTapExists).
func (l *Launcher) Start(ctx context.Context, spec api.VMSpec) (*Instance, error) {
	return l.StartWith(ctx, spec, StartOptions{})
}

// StartIncoming is Start for the destination of a migration: QEMU starts
// with "-incoming defer -S", so it waits (QMP status "inmigrate") for
// migrate-incoming, and after the migration stays paused until "cont".
// The record's state is "starting" until the caller says otherwise.
func (l *Launcher) StartIncoming(ctx context.Context, spec api.VMSpec) (*Instance, error) {
	return l.StartWith(ctx, spec, StartOptions{Incoming: true})
}

// StartWith is Start or StartIncoming (opts.Incoming), running
// opts.BeforeQEMU for each tap between the taps' creation and QEMU's
// start.
func (l *Launcher) StartWith(ctx context.Context, spec api.VMSpec, opts StartOptions) (*Instance, error) {
	incoming := opts.Incoming
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("starting vm: %w", err)
	}
	bridges, err := l.bridges(spec)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	kernel, initrd, err := l.imageFiles(spec.Image)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	accel, err := l.Accel(ctx, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	log := l.log.With("vm", spec.Name)
	p := vmPaths(l.cfg.StateDir, spec.Name)
	taps, err := l.createTaps(spec.Name, bridges)
	if err != nil {
		if errors.Is(err, ErrTapExists) {
			err = fmt.Errorf("%w: %w", api.ErrExists, err)
		}
		return nil, fmt.Errorf("starting %s: %w", spec.Name, err)
	}
	if opts.BeforeQEMU != nil {
		for _, t := range taps {
			if err := opts.BeforeQEMU(ctx, t); err != nil {
				l.removeTaps(taps)
				return nil, fmt.Errorf("starting %s: tap %s: %w", spec.Name, t.Name, err)
			}
		}
	}
	var cmd *exec.Cmd
	var inst *Instance
	fail := func(err error) (*Instance, error) {
		if inst != nil {
			inst.kill()
			inst.waitExit(context.Background(), 10*time.Second)
			if mon := inst.monitor(); mon != nil {
				mon.Close()
			}
		} else if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		detail := tailFile(p.Stderr, 8192)
		l.removeTaps(taps)
		removeVMDir(p.Dir)
		err = fmt.Errorf("%w: starting %s: %w", api.ErrQEMU, spec.Name, err)
		if detail == "" {
			return nil, err
		}
		return nil, &api.DetailError{Err: err, Detail: detail}
	}

	if err := removeVMDir(p.Dir); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(p.Dir, 0o750); err != nil {
		return fail(fmt.Errorf("creating vm dir: %w", err))
	}
	stderr, err := os.OpenFile(p.Stderr, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return fail(fmt.Errorf("creating stderr file: %w", err))
	}
	defer stderr.Close()
	// QEMU gets NIC i's tap as fd 3+i (tapFD).
	childTaps := make([]*os.File, 0, len(taps))
	defer func() {
		for _, f := range childTaps {
			f.Close()
		}
	}()
	for _, t := range taps {
		f, err := dupFile(t.File)
		if err != nil {
			return fail(err)
		}
		childTaps = append(childTaps, f)
	}

	cmd = exec.Command(l.cfg.QEMU, qemuArgs(spec, accel, kernel, initrd, p, incoming)...)
	cmd.Dir = p.Dir
	cmd.Stderr = stderr
	cmd.ExtraFiles = childTaps
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	log.Debug("starting qemu", "args", cmd.Args)
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("running %s: %w", l.cfg.QEMU, err))
	}
	started := time.Now()
	for _, f := range childTaps {
		f.Close()
	}
	childTaps = nil
	stderr.Close()
	for _, t := range taps {
		setNonblock(t.File) // the open file is shared: keep it non-blocking
	}
	tap0, moreTaps := tapNames(taps)

	inst = &Instance{
		l: l, log: log, p: p, taps: taps,
		kill: func() error { return ignoreDone(cmd.Process.Kill()) },
		done: make(chan struct{}),
		rec: api.VM{
			Spec: spec, State: api.StateRunning, Host: l.cfg.Host,
			PID: cmd.Process.Pid, Tap: tap0, Taps: moreTaps, Accel: accel,
			QMPSocket: p.QMP, ConsoleLog: p.Console, Started: started,
		},
	}
	if incoming {
		inst.rec.State = api.StateStarting
	}
	go func() {
		err := cmd.Wait()
		inst.exited(exitHow(cmd.ProcessState, err))
	}()

	mon, err := l.waitQMP(ctx, inst)
	if err != nil {
		return fail(err)
	}
	inst.setMonitor(mon)
	qctx, cancel := bounded(ctx, 10*time.Second)
	status, err := inst.QueryStatus(qctx)
	cancel()
	if err != nil {
		return fail(err)
	}
	log.Info("qemu started", "pid", inst.rec.PID, "accel", accel, "status", status,
		"taps", inst.rec.AllTaps(), "boot", time.Since(started).Round(time.Millisecond))
	return inst, nil
}

// waitQMP connects to the QMP socket of a starting QEMU, giving up when
// QEMU exits, ctx ends or the launcher's QMP timeout passes.
func (l *Launcher) waitQMP(ctx context.Context, inst *Instance) (*qmpx.Monitor, error) {
	ctx, cancel := bounded(ctx, l.qmpTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(inst.p.QMP); err == nil {
			dctx, dcancel := bounded(ctx, 2*time.Second)
			mon, err := qmpx.Dial(dctx, inst.p.QMP, inst.log)
			dcancel()
			if err == nil {
				return mon, nil
			}
			inst.log.Debug("qmp not ready", "err", err)
		}
		select {
		case <-inst.done:
			return nil, errors.New(inst.ExitReason())
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for qmp socket %s: %w", inst.p.QMP, ctx.Err())
		case <-tick.C:
		}
	}
}

// exitHow describes a process end: "status 1", "signal killed".
func exitHow(ps *os.ProcessState, err error) string {
	if ps == nil {
		if err != nil {
			return err.Error()
		}
		return ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("status %d", ps.ExitCode())
}

// dupFile duplicates f's descriptor (close-on-exec) without switching f
// to blocking mode, as f.Fd() would.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dup tap: %w", err)
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("dup tap: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("dup tap: %w", derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

func setNonblock(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), true) })
	}
}

// ignoreDone drops the error of signalling a process that has exited.
func ignoreDone(err error) error {
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
