package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// StartVM validates spec, reserves its name and addresses, and launches it.
// A failed start leaves no record behind.
func (a *Agent) StartVM(ctx context.Context, spec api.VMSpec) (api.VM, error) {
	a.metrics.starts.Inc()
	rec, err := a.startVM(ctx, spec)
	if err != nil {
		a.metrics.startFailures.WithLabelValues(api.ErrorFor(err).Code).Inc()
		a.log.Warn("vm start refused or failed", "vm", spec.Name, "err", err)
		return api.VM{}, err
	}
	a.log.Info("vm started", "vm", rec.Spec.Name, "pid", rec.PID, "taps", rec.AllTaps(), "accel", rec.Accel)
	return rec, nil
}

func (a *Agent) startVM(ctx context.Context, spec api.VMSpec) (api.VM, error) {
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return api.VM{}, err
	}
	e, err := a.reserve(spec)
	if err != nil {
		return api.VM{}, err
	}
	defer e.op.Unlock()
	if err := a.storeNow(putVM(e.rec)); err != nil {
		a.forget(e)
		return api.VM{}, fmt.Errorf("recording vm %s: %w", spec.Name, err)
	}

	inst, err := a.cfg.Runtime.Start(ctx, spec, a.attachHook(e, spec))
	if err != nil {
		a.detachEntry(e)
		a.discardStart(e)
		return api.VM{}, err // the runtime's errors name the vm
	}
	rec := inst.Record()
	rec.Spec, rec.State, rec.Host, rec.Created = spec, api.StateRunning, a.cfg.Host, e.rec.Created
	if err := a.storeNow(putVM(rec)); err != nil {
		if serr := inst.Stop(context.WithoutCancel(ctx)); serr != nil {
			a.log.Error("stopping vm after a store failure", "vm", spec.Name, "err", serr)
		}
		a.detachEntry(e)
		a.discardStart(e)
		return api.VM{}, fmt.Errorf("recording vm %s: %w", spec.Name, err)
	}
	a.setAccel(rec.Accel)
	a.mu.Lock()
	e.rec, e.inst = rec, inst
	a.mu.Unlock()
	a.watch(e, inst, true)
	return rec, nil
}

// reserve claims spec's name and addresses with a starting record. The
// returned entry's op lock is held.
func (a *Agent) reserve(spec api.VMSpec) (*entry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.vms[spec.Name]; ok {
		return nil, fmt.Errorf("%w: %s", api.ErrExists, spec.Name)
	}
	if err := a.networksKnown(spec); err != nil {
		return nil, err
	}
	if err := a.addressConflict(spec); err != nil {
		return nil, err
	}
	if err := a.foreignConflict(spec); err != nil {
		return nil, err
	}
	e := &entry{rec: api.VM{Spec: spec, State: api.StateStarting, Host: a.cfg.Host, Created: time.Now().UTC()}}
	e.op.Lock()
	a.vms[spec.Name] = e
	return e, nil
}

// networksKnown refuses a spec with a NIC on a host network this agent's
// runtime lacks (the default network "" it always has).
func (a *Agent) networksKnown(spec api.VMSpec) error {
	have := a.cfg.Runtime.Networks()
	for i, n := range spec.AllNICs() {
		if n.Network == "" || slices.Contains(have, n.Network) {
			continue
		}
		nic := ""
		if i > 0 {
			nic = fmt.Sprintf("nic %d: ", i)
		}
		known := "only the default network"
		if len(have) > 0 {
			known = "the default network and " + strings.Join(have, ", ")
		}
		return fmt.Errorf("%w: %snetwork %q is not on host %s (it has %s)", api.ErrInvalidSpec, nic, n.Network, a.cfg.Host, known)
	}
	return nil
}

// addressConflict reports another VM holding one of spec's NICs' MACs or
// IPs. Failed VMs hold no addresses (their tap and QEMU are gone). Called
// with a.mu held.
func (a *Agent) addressConflict(spec api.VMSpec) error {
	for _, n := range spec.AllNICs() {
		mac, _ := net.ParseMAC(n.MAC)
		ip := prefixAddr(n.Address)
		for name, e := range a.vms {
			if e.rec.State == api.StateFailed {
				continue
			}
			for _, o := range e.rec.Spec.AllNICs() {
				if m, err := net.ParseMAC(o.MAC); err == nil && m.String() == mac.String() {
					return fmt.Errorf("%w: mac %s is used by vm %s", api.ErrAddressInUse, mac, name)
				}
				if ip.IsValid() && prefixAddr(o.Address) == ip {
					return fmt.Errorf("%w: ip %s is used by vm %s", api.ErrAddressInUse, ip, name)
				}
			}
		}
	}
	return nil
}

func prefixAddr(s string) netip.Addr {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Addr{}
	}
	return p.Addr()
}

// discardStart undoes a failed start: the runtime left nothing behind, so
// only the record goes. (A cleanup here could remove the tap of an orphaned
// guest that made the start fail.)
func (a *Agent) discardStart(e *entry) {
	a.storeLater(deleteVM(e.rec.Spec.Name))
	a.forget(e)
}

func (a *Agent) forget(e *entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.vms[e.rec.Spec.Name] == e {
		delete(a.vms, e.rec.Spec.Name)
	}
	e.gone = true
}

// lookup returns the named entry or an error matching api.ErrNotFound.
func (a *Agent) lookup(name string) (*entry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.vms[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", api.ErrNotFound, name)
	}
	return e, nil
}

// GetVM returns the named VM's record.
func (a *Agent) GetVM(name string) (api.VM, error) {
	if rec, _, ok := a.foreignRecord(name); ok {
		return rec, nil
	}
	e, err := a.lookup(name)
	if err != nil {
		return api.VM{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return e.rec, nil
}

// ListVMs returns every VM's record, the guests of Config.Foreign
// included, ordered by name.
func (a *Agent) ListVMs() []api.VM {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]api.VM, 0, len(a.vms))
	for _, e := range a.vms {
		out = append(out, e.rec)
	}
	for _, g := range a.foreign {
		out = append(out, g.rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}
