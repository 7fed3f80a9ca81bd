package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/dataplane/tapio"
	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// The destination's part of a migration:
//
//	Prepare   -> HOLD      frames for the VM are queued until the flush has been injected
//	Started                runs here: its ARP answered while held; the bridge points its MAC at the tap (fdb_linux.go);
//	                       gratuitous ARPs announce it
//	Flushed   -> RELEASE   the flush, then the HOLD queue, go into the tap; the program sets PASS (release_linux.go)
//	Rollback               the entry goes, its unicast frames counted as dropped (dest_rollback_linux.go)

// prepare (destination, before QEMU starts) puts a NIC in HOLD. Without an
// Attach yet, the entry is made without a tap (Attach keeps HOLD).
func (h *Handoff) prepare(ctx context.Context, spec api.VMSpec) error {
	mac, ip, err := parseSpec(spec)
	if err != nil {
		return err
	}
	v := h.holdEntry(spec.Name, mac, ip)
	v.mu.Lock()
	defer v.mu.Unlock()
	st, err := v.claim(h.d.maps, vmState{Ip: ipKey(ip), TunIfindex: uint32(h.d.tunIndex), TapIfindex: uint32(v.tap.Ifindex)})
	if err != nil {
		return err
	}
	m := h.d.maps
	st.Mode = modeHold
	if err := m.putState(v.key, st); err != nil {
		return err
	}
	if err := m.mapIndexes(v.key, 0, ipKey(ip)); err != nil {
		return err
	}
	ctr, _ := m.countersOf(v.key)
	v.stats.reset(ctr, time.Now())
	v.stats.enter("hold", time.Now())
	v.queue.ResetStats()
	if left := v.queue.Drain(); len(left) > 0 {
		v.finish(uint64(len(left)))
		v.log.Warn("frames left from an earlier hand-off discarded", "frames", len(left))
	}
	v.role, v.discard, v.src = roleDest, false, sourceState{}
	v.log.Info("hold")
	return nil
}

// holdEntry returns the entry of the VM named name, or else with MAC mac,
// made if there is none.
func (h *Handoff) holdEntry(name string, mac net.HardwareAddr, ip netip.Addr) *vmEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v := h.names[name]; v != nil {
		return v
	}
	if v := h.vms[keyOf(mac)]; v != nil {
		return v
	}
	return h.newEntry(name, mac, ip)
}

// started (destination, right after cont) marks the guest as running here
// (the program answers its ARP while its traffic is held), points the
// host's bridge at its tap (learnAtTap), and sends the gratuitous ARPs
// from the NIC's MAC and IPv4 out of its network's uplink, in the
// background.
func (h *Handoff) started(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	v.mu.Lock()
	err = h.d.maps.update(v.key, func(st *vmState) { st.Flags |= runsHere })
	tap := v.tap.Ifindex
	v.mu.Unlock()
	if err != nil {
		return fmt.Errorf("vm %s: marking it running here: %w", spec.Name, err)
	}
	// Before the first gratuitous ARP: see learnAtTap.
	if tap != 0 {
		if ok, err := learnAtTap(tap, net.HardwareAddr(v.mac)); err != nil {
			v.log.Warn("bridge left to learn the guest's MAC itself", "err", err)
		} else if ok {
			v.log.Debug("bridge forwards the guest's MAC to its tap")
		}
	}
	cfg := h.d.cfg
	uplink := cfg.uplinkOf(spec.Network)
	if uplink == "" || !v.ip.Is4() || cfg.GARPCount == 0 {
		v.log.Info("no gratuitous ARP (no uplink, IPv4 or count)", "network", spec.Network)
		return nil
	}
	done := make(chan struct{})
	v.mu.Lock()
	v.dst.garpDone = done
	v.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		n, err := tapio.SendGARP(h.d.ctx, uplink, net.HardwareAddr(v.mac), v.ip, cfg.GARPCount, cfg.GARPInterval)
		v.stats.update(func(s *api.HandoffStats) { s.GARPs += n })
		if err != nil {
			v.log.Warn("gratuitous ARP", "sent", n, "err", err)
		}
	}()
	return nil
}

// flushNIC (destination) injects a NIC's flush section r (nil when the
// source sent none in time) into its tap, then starts releasing its HOLD
// queue: drained is closed when every frame captured so far is injected;
// the program then flips to PASS on the next frame (a background release
// goes on until it has). A section it cannot inject is read to its end.
func (h *Handoff) flushNIC(ctx context.Context, spec api.VMSpec, r *frame.FlushReader) (v *vmEntry, drained <-chan struct{}, err error) {
	fail := func(err error) (*vmEntry, <-chan struct{}, error) {
		skipSection(r)
		return nil, nil, err
	}
	if v, err = h.lookup(spec); err != nil {
		return fail(err)
	}
	v.mu.Lock()
	tap := v.tap.Name
	v.mu.Unlock()
	if tap == "" {
		return fail(fmt.Errorf("vm %s: flushed without a tap", spec.Name))
	}
	inj, err := tapio.NewInjector(tap, v.log)
	if err != nil {
		return fail(fmt.Errorf("vm %s: %w", spec.Name, err))
	}
	var ferr error
	if r != nil {
		ferr = h.injectFlush(ctx, v, inj, r)
	}
	drained, err = h.startRelease(v, inj, false)
	if err != nil {
		return v, nil, errors.Join(ferr, err)
	}
	return v, drained, ferr
}

// skipSection reads a flush section the destination cannot inject (no
// entry, no tap) to its end, so the next NIC's section can be read.
func skipSection(r *frame.FlushReader) {
	if r == nil {
		return
	}
	for {
		if _, _, err := r.Next(); err != nil {
			return
		}
	}
}

// awaitRelease waits until drained is closed and then for v's gratuitous
// ARPs: the report that follows counts them (a few hundred milliseconds
// with the default count and interval).
func awaitRelease(ctx context.Context, v *vmEntry, drained <-chan struct{}) error {
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("vm %s: releasing hold: %w", v.name, ctx.Err())
	}
	v.mu.Lock()
	garp := v.dst.garpDone
	v.mu.Unlock()
	if garp != nil {
		select {
		case <-garp:
		case <-ctx.Done():
		}
	}
	return err
}
