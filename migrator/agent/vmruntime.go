package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// VMRuntime adapts a migrator/vm Launcher to Runtime.
func VMRuntime(l *vm.Launcher) Runtime { return vmRuntime{l} }

type vmRuntime struct{ l *vm.Launcher }

func (r vmRuntime) Accel(ctx context.Context, image string) (string, error) {
	return r.l.Accel(ctx, image)
}

func (r vmRuntime) Networks() []string { return r.l.Networks() }

func (r vmRuntime) Start(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error) {
	inst, err := r.l.StartWith(ctx, spec, vm.StartOptions{BeforeQEMU: onTap})
	if err != nil {
		return nil, err
	}
	return inst, nil
}

func (r vmRuntime) Adopt(ctx context.Context, rec api.VM) (Instance, error) {
	inst, err := r.l.Adopt(ctx, rec)
	if errors.Is(err, vm.ErrGone) {
		return nil, fmt.Errorf("%w: %w", ErrGone, err)
	}
	if err != nil {
		return nil, err
	}
	return inst, nil
}

func (r vmRuntime) Cleanup(ctx context.Context, rec api.VM) error {
	return r.l.Cleanup(ctx, rec)
}

// StartIncoming starts a guest for an incoming migration (IncomingStarter).
func (r vmRuntime) StartIncoming(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error) {
	inst, err := r.l.StartWith(ctx, spec, vm.StartOptions{Incoming: true, BeforeQEMU: onTap})
	if err != nil {
		return nil, err
	}
	return inst, nil
}
