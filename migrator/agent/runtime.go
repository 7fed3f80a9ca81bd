package agent

import (
	"context"
	"errors"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// ErrGone is matched (errors.Is) by Runtime.Adopt's error when the guest
// of a stored record is no longer running.
var ErrGone = errors.New("guest gone")

// Runtime launches and adopts guests. migrator/vm implements it (through
// VMRuntime); tests use a fake.
type Runtime interface {
	// Accel names the accelerator guests of image run with ("kvm" or "tcg").
	Accel(ctx context.Context, image string) (string, error)
	// Networks names the host networks guests' NICs may join besides
	// the default one ("").
	Networks() []string
	// Start launches a guest for a validated spec, running onTap (if not
	// nil) for each of its taps, one per NIC, once they exist and before
	// QEMU starts. Its errors name the VM, wrap api.ErrInvalidSpec,
	// api.ErrNoImage, api.ErrExists (tap taken), api.ErrQEMU (with an
	// *api.DetailError carrying QEMU's stderr) or onTap's error, and
	// leave nothing behind.
	Start(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error)
	// Adopt takes over a guest started by an earlier agent; its error
	// matches ErrGone when the guest is no longer running.
	Adopt(ctx context.Context, rec api.VM) (Instance, error)
	// Cleanup removes what was made for rec (taps, files, a leftover QEMU).
	// It is safe to call more than once.
	Cleanup(ctx context.Context, rec api.VM) error
}

// Instance is one running guest.
type Instance interface {
	// Record is the guest's record as the runtime sees it (state running).
	Record() api.VM
	// QueryStatus is QMP query-status's status, e.g. "running".
	QueryStatus(ctx context.Context) (string, error)
	// Stop ends the guest and removes what was made for it.
	Stop(ctx context.Context) error
	// Done is closed when QEMU has exited (or the runtime lost it).
	Done() <-chan struct{}
	// ExitReason says why QEMU exited, once Done is closed.
	ExitReason() string
}

// detacher is implemented by instances that hold resources (a QMP
// connection, a tap descriptor) which the agent lets go of at shutdown
// while the guest runs on (*vm.Instance does).
type detacher interface {
	Detach() error
}

// IncomingStarter is implemented by runtimes that can start a guest as
// the destination of a migration: QEMU waits ("-incoming defer -S") for
// migrate-incoming and stays paused until cont. Its instances must also
// implement session.Guest (QMP commands and events), as *vm.Instance does.
type IncomingStarter interface {
	StartIncoming(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error)
}

// tapper is implemented by instances that know their taps, one per NIC
// in order (*vm.Instance).
type tapper interface {
	Taps() []handoff.Tap
}
