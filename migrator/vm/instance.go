package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// Instance is one running guest: its QEMU process, QMP connection and
// taps.
type Instance struct {
	l   *Launcher
	log *slog.Logger
	p   paths
	mon *qmpx.Monitor
	// taps are the guest's taps in NIC order, with our descriptors (nil
	// if not recovered on Adopt) and interface indexes (0 if unknown).
	taps []handoff.Tap

	// kill sends SIGKILL to QEMU unless it has exited already.
	kill func() error

	done chan struct{} // closed once QEMU has exited

	mu       sync.Mutex
	rec      api.VM
	reason   string // exit reason, set before done closes
	stopping bool   // Stop was called: the exit is expected

	stopMu  sync.Mutex // serialises Stop
	cleaned bool
}

// Record is the guest's record: spec, state, pid, tap, accel, paths,
// start time and whether it was adopted.
func (i *Instance) Record() api.VM {
	i.mu.Lock()
	defer i.mu.Unlock()
	rec := i.rec
	select {
	case <-i.done:
		if i.stopping {
			rec.State = api.StateStopped
		} else {
			rec.State = api.StateFailed
			rec.Reason = i.reason
		}
	default:
	}
	return rec
}

// Done is closed when the QEMU process has exited.
func (i *Instance) Done() <-chan struct{} { return i.done }

// ExitReason says how QEMU ended, e.g. "qemu exited: status 1: <last
// stderr line>". It is empty until Done is closed.
func (i *Instance) ExitReason() string {
	select {
	case <-i.done:
	default:
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.reason
}

// WSSocket is the unix socket of the guest's working-set port (wsArgs);
// guests started by older builds have none.
func (i *Instance) WSSocket() string { return i.p.WS }

// QMP is the guest's shared QMP connection (Execute + Events).
func (i *Instance) QMP() *qmpx.Monitor { return i.mon }

// Execute runs a raw QMP command; see qmpx.Monitor.Execute.
func (i *Instance) Execute(ctx context.Context, cmd string, args, out any) error {
	return i.mon.Execute(ctx, cmd, args, out)
}

// Events subscribes to the guest's QMP events; see qmpx.Monitor.Events.
func (i *Instance) Events(ctx context.Context) <-chan qmpx.Event { return i.mon.Events(ctx) }

// QueryStatus returns QMP query-status's "status" ("running", "paused", ...).
func (i *Instance) QueryStatus(ctx context.Context) (string, error) {
	var st qmpcmd.StatusInfo
	if err := i.mon.Execute(ctx, qmpcmd.QueryStatus, nil, &st); err != nil {
		return "", err
	}
	return st.Status, nil
}

// exited records why QEMU ended and closes done. how is e.g. "status 1".
func (i *Instance) exited(how string) {
	reason := "qemu exited"
	if how != "" {
		reason += ": " + how
	}
	if line := lastLine(i.p.Stderr); line != "" {
		reason += ": " + line
	}
	i.mu.Lock()
	i.reason = reason
	expected := i.stopping
	mon := i.mon
	i.mu.Unlock()
	if expected {
		i.log.Info("qemu exited", "reason", reason)
	} else {
		// Nobody may call Stop (the agent calls Launcher.Cleanup): let go
		// of the connection and the tap descriptors now.
		i.log.Warn("qemu exited unexpectedly", "reason", reason)
		if mon != nil {
			mon.Close()
		}
		closeTaps(i.taps)
	}
	close(i.done)
}

// setMonitor and monitor guard mon while Start races with an early exit.
func (i *Instance) setMonitor(m *qmpx.Monitor) {
	i.mu.Lock()
	i.mon = m
	i.mu.Unlock()
}

func (i *Instance) monitor() *qmpx.Monitor {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.mon
}

// Stop asks QEMU to quit, waits for it (SIGKILL after a grace period), then
// removes the taps and the per-VM files. It is idempotent.
func (i *Instance) Stop(ctx context.Context) error {
	i.stopMu.Lock()
	defer i.stopMu.Unlock()
	if i.cleaned {
		return nil
	}
	i.mu.Lock()
	i.stopping = true
	i.mu.Unlock()

	select {
	case <-i.done:
	default:
		qctx, cancel := bounded(ctx, 5*time.Second)
		err := i.mon.Execute(qctx, qmpcmd.Quit, nil, nil)
		cancel()
		if err != nil && !errors.Is(err, qmpx.ErrClosed) {
			i.log.Warn("qmp quit failed", "err", err)
		}
		if err := i.waitExit(ctx, i.l.stopGrace); err != nil {
			i.log.Warn("qemu did not quit, killing it", "err", err)
			if err := i.kill(); err != nil {
				i.log.Warn("killing qemu", "err", err)
			}
			// SIGKILL cannot be ignored: wait for it even if ctx ended.
			if err := i.waitExit(context.Background(), 10*time.Second); err != nil {
				return fmt.Errorf("stopping %s: qemu still running after SIGKILL", i.rec.Spec.Name)
			}
		}
	}
	if err := i.release(); err != nil {
		return fmt.Errorf("stopping %s: %w", i.rec.Spec.Name, err)
	}
	i.cleaned = true
	return nil
}

// Detach lets go of the guest without stopping it, as an agent that shuts
// down does: it closes the QMP connection (QEMU takes one client at a
// time, so a later Adopt can connect) and the agent's tap descriptors.
// The guest keeps running; Done still fires when it exits.
func (i *Instance) Detach() error {
	i.stopMu.Lock()
	defer i.stopMu.Unlock()
	if i.cleaned {
		return nil
	}
	err := i.mon.Close()
	closeTaps(i.taps)
	i.cleaned = true // nothing of ours left to release
	return err
}

// release closes the connections and removes the taps and per-VM files.
func (i *Instance) release() error {
	i.mon.Close()
	closeTaps(i.taps)
	err := i.l.deleteTaps(i.rec.AllTaps())
	return errors.Join(err, removeVMDir(i.p.Dir))
}

func (i *Instance) waitExit(ctx context.Context, d time.Duration) error {
	ctx, cancel := bounded(ctx, d)
	defer cancel()
	select {
	case <-i.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// removeVMDir removes a per-VM directory; a missing one is fine.
func removeVMDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// lastLine is the last non-empty line of a file's last 4 KiB.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 4096 {
		f.Seek(-4096, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.TrimSpace(lines[len(lines)-1]))
}

// tailFile is up to the last n bytes of a file, for error details.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(bytes.TrimSpace(b))
}
