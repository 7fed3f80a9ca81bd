package vm

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// StartOptions are the options of StartWith.
type StartOptions struct {
	// Incoming starts QEMU with "-incoming defer -S" (see StartIncoming).
	Incoming bool
	// BeforeQEMU, if set, runs for each of the guest's taps, in NIC order,
	// once they all exist and before QEMU starts (e.g. to attach the
	// dataplane to the tap). Its error fails the start, and every tap is
	// removed.
	BeforeQEMU handoff.TapHook
}

// Taps are the guest's tap devices, one per NIC in api.VMSpec.AllNICs
// order. Each File is the agent's descriptor of the tap, the same open
// file as QEMU's, so after QEMU has stopped it reads what was still
// queued for the guest; it is nil for an adopted guest whose tap could
// not be recovered. Do not read from it while QEMU runs.
func (i *Instance) Taps() []handoff.Tap {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.taps)
}

// closeTaps closes the agent's descriptors of the guest's taps (the
// devices go with QEMU's, or with deleteTap).
func closeTaps(taps []handoff.Tap) {
	for _, t := range taps {
		if t.File != nil {
			t.File.Close()
		}
	}
}

// Networks names the further host networks (besides the default "")
// whose bridges guests' NICs may join, sorted.
func (l *Launcher) Networks() []string { return slices.Sorted(maps.Keys(l.cfg.Networks)) }

// deleteTaps removes the named taps; missing ones are not an error.
func (l *Launcher) deleteTaps(names []string) error {
	return l.inNetns(func() error {
		var errs []error
		for _, name := range names {
			if name == "" {
				continue
			}
			if err := deleteTap(name); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// bridges are the bridges of spec's NICs' networks, in NIC order; a
// network this host lacks is an invalid spec.
func (l *Launcher) bridges(spec api.VMSpec) ([]string, error) {
	nics := spec.AllNICs()
	out := make([]string, len(nics))
	for i, n := range nics {
		br, err := l.cfg.bridge(n.Network)
		if err != nil {
			if i > 0 {
				return nil, fmt.Errorf("%w: nic %d: %w", api.ErrInvalidSpec, i, err)
			}
			return nil, fmt.Errorf("%w: %w", api.ErrInvalidSpec, err)
		}
		out[i] = br
	}
	return out, nil
}

// tapNames are the names of taps as api.VM records them: the first NIC's,
// and the others' (nil for one NIC).
func tapNames(taps []handoff.Tap) (string, []string) {
	if len(taps) == 0 {
		return "", nil
	}
	var more []string
	for _, t := range taps[1:] {
		more = append(more, t.Name)
	}
	return taps[0].Name, more
}
