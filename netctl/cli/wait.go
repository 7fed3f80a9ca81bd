package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// Polling starts fast, so a quick answer is seen quickly, and backs off.
const (
	pollFirst = 100 * time.Millisecond
	pollMax   = time.Second
)

// waitGuest polls the VM's status until its vnf answers (Guest != nil), the
// VM fails, or wait passes. Transient agent errors are retried.
func waitGuest(ctx context.Context, g *globals, t *target, vm api.VM, wait time.Duration) (api.VMStatus, error) {
	name := vm.Spec.Name
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	p := g.newProgress()
	defer p.clear()
	start := time.Now()
	last := api.VMStatus{VM: vm}
	var lastErr error
	for delay := pollFirst; ; delay = min(2*delay, pollMax) {
		st, err := call(wctx, g, t, func(ctx context.Context) (api.VMStatus, error) {
			return t.client.VMStatus(ctx, name)
		})
		switch {
		case err == nil:
			last, lastErr = st, nil
			if st.Guest != nil {
				return st, nil
			}
			if st.State == api.StateFailed || st.State == api.StateStopped {
				return st, consoleHint(fmt.Errorf("%s %s while booting: %s", name, st.State, or(st.Reason, "no reason given")), st.VM)
			}
		case ctx.Err() != nil:
			return last, ctx.Err()
		case errors.Is(err, api.ErrNotFound):
			return last, fmt.Errorf("%s disappeared from %s while booting: %w", name, t.name, err)
		case wctx.Err() == nil:
			lastErr = err
		}
		p.update("waiting for %s's vnf: %s, state %s, qemu %s", name,
			fmtDuration(time.Since(start).Truncate(time.Second)), or(last.State, "?"), or(last.QEMUStatus, "?"))
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			why := last.GuestError
			if lastErr != nil {
				why = lastErr.Error()
			}
			return last, consoleHint(fmt.Errorf("%s started but its vnf did not answer within %v: %s", name, wait, or(why, "no answer yet")), last.VM)
		case <-time.After(delay):
		}
	}
}

// consoleHint points at the guest's console log and says the VM was left.
func consoleHint(err error, vm api.VM) error {
	return withHint(err, "the guest's console log: %s\nthe VM is left as it is; \"netctl vm stop %s\" removes it",
		or(vm.ConsoleLog, "(unknown)"), vm.Spec.Name)
}
