//go:build !linux

package vm

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

var (
	// ErrGone means the guest's QEMU process no longer exists.
	ErrGone = errors.New("qemu process gone")
	// ErrTapExists is returned by Start when the VM's tap already exists.
	ErrTapExists = errors.New("tap device already exists")

	errNotImplemented = fmt.Errorf("vm: not implemented on %s", runtime.GOOS)
)

type netnsHandle struct{}

func (netnsHandle) Close() error              { return nil }
func currentNetns() (netnsHandle, error)      { return netnsHandle{}, nil }
func inNetns(netnsHandle, func() error) error { return errNotImplemented }
func deleteTap(string) error                  { return errNotImplemented }

// Start is not implemented on this OS.
func (l *Launcher) Start(context.Context, api.VMSpec) (*Instance, error) {
	return nil, errNotImplemented
}

// StartIncoming is not implemented on this OS.
func (l *Launcher) StartIncoming(context.Context, api.VMSpec) (*Instance, error) {
	return nil, errNotImplemented
}

// StartWith is not implemented on this OS.
func (l *Launcher) StartWith(context.Context, api.VMSpec, StartOptions) (*Instance, error) {
	return nil, errNotImplemented
}

// Adopt is not implemented on this OS.
func (l *Launcher) Adopt(context.Context, api.VM) (*Instance, error) {
	return nil, errNotImplemented
}

// CheckBridges is not implemented on this OS.
func (l *Launcher) CheckBridges() error { return errNotImplemented }

// Cleanup is not implemented on this OS.
func (l *Launcher) Cleanup(context.Context, api.VM) error { return errNotImplemented }

// ProbeMarker is what the image's /init prints when booted with nfh.probe=1.
const ProbeMarker = "NFH-PROBE-OK"

func (l *Launcher) probe(context.Context, string, string) (string, string) {
	return AccelTCG, errNotImplemented.Error()
}

// DialOOB opens a QMP connection with out-of-band execution on the guest's
// second QMP socket.
func (i *Instance) DialOOB(ctx context.Context) (*qmpx.OOB, error) { return qmpx.DialOOB(ctx, i.p.OOB) }
