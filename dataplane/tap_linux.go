package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/nfhandoff/nfhandoff/dataplane/tchook"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// attach sets up a NIC's entry (mode kept if it exists, else PASS) and its
// tap hook.
func (h *Handoff) attach(ctx context.Context, spec api.VMSpec, tap handoff.Tap) error {
	mac, ip, err := parseSpec(spec)
	if err != nil {
		return err
	}
	if tap.Ifindex <= 0 {
		if tap.Ifindex, err = ifindexOf(tap.Name); err != nil {
			return fmt.Errorf("attaching vm %s: %w", spec.Name, err)
		}
	}
	v, err := h.attachEntry(spec.Name, mac, ip)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	st, err := v.claim(h.d.maps, vmState{Mode: modePass})
	if err != nil {
		return err
	}
	if st.Mode == modeForward {
		// The VM left and is here again within the grace period (started
		// anew, or arriving: Prepare comes next): its frames are its own.
		v.log.Info("attached while forwarding for a move: forwarding ends")
		st.Mode, st.RemoteIp, st.Vni = modePass, 0, 0
		v.role, v.src = roleNone, sourceState{}
	}
	m := h.d.maps
	st.Ip, st.TapIfindex, st.TunIfindex = ipKey(ip), uint32(tap.Ifindex), uint32(h.d.tunIndex)
	if err := m.putState(v.key, st); err != nil {
		return err
	}
	if v.tap.Ifindex != 0 && v.tap.Ifindex != tap.Ifindex {
		if err := m.unmapIfindex(v.key, uint32(v.tap.Ifindex)); err != nil {
			return err
		}
	}
	if err := m.mapIndexes(v.key, uint32(tap.Ifindex), ipKey(ip)); err != nil {
		return err
	}
	if err := h.hookTap(v, tap); err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	v.tap = tap
	v.log.Info("attached", "tap", tap.Name, "mode", st.Mode.String())
	return nil
}

// attachEntry returns the entry of the VM with MAC mac, made if there is
// none, named name.
func (h *Handoff) attachEntry(name string, mac net.HardwareAddr, ip netip.Addr) (*vmEntry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.vms[keyOf(mac)]
	if old := h.names[name]; old != nil && old != v {
		return nil, fmt.Errorf("attaching vm %s: already attached with MAC %s", name, old.mac)
	}
	if v == nil {
		return h.newEntry(name, mac, ip), nil
	}
	if v.name != name {
		h.rename(v, name, ip)
	}
	return v, nil
}

// rename gives an entry found by its MAC the name of spec (h.mu held): an
// adopted entry keeps what it counted since the restart.
func (h *Handoff) rename(v *vmEntry, name string, ip netip.Addr) {
	delete(h.names, v.name)
	if v.name == "" {
		h.stats[name] = v.stats
	} else {
		if h.stats[name] == nil {
			h.stats[name] = newStats()
		}
		v.stats = h.stats[name]
	}
	v.name, v.ip = name, ip
	v.log = entryLog(h.d.log, name)
	h.names[name] = v
}

// hookTap attaches the tap hook to tap unless it is there already (v.mu
// held); a hook on another device goes.
func (h *Handoff) hookTap(v *vmEntry, tap handoff.Tap) error {
	if v.hook != nil && !v.hook.On(tap.Name, tap.Ifindex) {
		if err := v.hook.Detach(); err != nil {
			v.log.Warn("detaching old tap hook", "err", err)
		}
		v.hook = nil
	}
	if v.hook != nil {
		return nil
	}
	hk, err := tchook.Attach(h.d.hookSpec(tap.Name, tap.Ifindex, HookTapEgress), h.d.objs.TapEgress, v.log)
	if err != nil {
		return err
	}
	v.hook = hk
	return nil
}

// detach removes a NIC's tap hook and mapping. An entry in FORWARD (the VM
// has moved away) keeps forwarding for ForwardGrace; any other goes now.
func (h *Handoff) detach(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return nil // never attached, or gone already
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m := h.d.maps
	errs := []error{v.hook.Detach(), m.unmapIfindex(v.key, uint32(v.tap.Ifindex))}
	v.hook, v.tap = nil, handoff.Tap{}
	st, exists, err := m.state(v.key)
	if err != nil {
		return err
	}
	if exists && st.Mode == modeForward {
		st.TapIfindex = 0
		errs = append(errs, m.putState(v.key, st))
		v.startGrace(h)
		v.log.Info("detached; forwarding for the grace period", "grace", h.d.cfg.ForwardGrace)
		return errors.Join(errs...)
	}
	errs = append(errs, h.removeLocked(v))
	v.log.Info("detached")
	return errors.Join(errs...)
}
