package dataplane

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// Handoff is the dataplane's handoff.Handoff: it moves a VM's traffic with
// the VM (see the package doc and handoff.Handoff for the call order). The
// methods are grouped by end: tap_linux.go (Attach, Detach),
// source_linux.go, dest_linux.go; Rollback is below.
type Handoff struct {
	d     *Dataplane
	mu    sync.Mutex
	vms   map[vmKey]*vmEntry
	names map[string]*vmEntry
	stats map[string]*stats // by VM name; kept after the entry goes
	wg    sync.WaitGroup    // background work (release, GARPs)
}

var (
	_ handoff.Handoff     = (*Handoff)(nil)
	_ handoff.Quiescer    = (*Handoff)(nil)
	_ handoff.TunnelPeers = (*Handoff)(nil)
)

func newHandoff(d *Dataplane) *Handoff {
	return &Handoff{d: d, vms: map[vmKey]*vmEntry{}, names: map[string]*vmEntry{}, stats: map[string]*stats{}}
}

// newEntry makes the user-space entry of a VM (h.mu held).
func (h *Handoff) newEntry(name string, mac net.HardwareAddr, ip netip.Addr) *vmEntry {
	st := h.stats[name]
	if st == nil {
		st = newStats()
		if name != "" { // adopted entries keep theirs until Attach names them
			h.stats[name] = st
		}
	}
	v := &vmEntry{
		key: keyOf(mac), name: name, mac: mac, ip: ip,
		log:   entryLog(h.d.log, name),
		order: ringOrder{pending: map[uint64]frame.Frame{}}, done: finished{maps: h.d.maps},
		queue: frame.NewQueue(h.d.cfg.QueueBytes), stats: st,
	}
	h.vms[v.key] = v
	if name != "" {
		h.names[name] = v
	}
	return v
}

// forget drops v from the maps of entries.
func (h *Handoff) forget(v *vmEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.vms[v.key] == v {
		delete(h.vms, v.key)
	}
	if h.names[v.name] == v {
		delete(h.names, v.name)
	}
}

func (h *Handoff) byKey(k vmKey) *vmEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vms[k]
}

// entries returns every entry.
func (h *Handoff) entries() []*vmEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	vs := make([]*vmEntry, 0, len(h.vms))
	for _, v := range h.vms {
		vs = append(vs, v)
	}
	return vs
}

// lookup returns the entry of spec, or an error when there is none.
func (h *Handoff) lookup(spec api.VMSpec) (*vmEntry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v := h.names[spec.Name]; v != nil {
		return v, nil
	}
	if mac, err := net.ParseMAC(spec.MAC); err == nil {
		if v := h.vms[keyOf(mac)]; v != nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("dataplane: vm %s is not attached", spec.Name)
}

// parseSpec returns the VM's MAC and IPv4 (invalid when none).
func parseSpec(spec api.VMSpec) (net.HardwareAddr, netip.Addr, error) {
	mac, err := net.ParseMAC(spec.MAC)
	if err != nil || len(mac) != 6 {
		return nil, netip.Addr{}, fmt.Errorf("vm %s: bad MAC %q", spec.Name, spec.MAC)
	}
	var ip netip.Addr
	if spec.Address != "" {
		p, err := netip.ParsePrefix(spec.Address)
		if err != nil || !p.Addr().Is4() {
			return nil, netip.Addr{}, fmt.Errorf("vm %s: bad IPv4 address %q", spec.Name, spec.Address)
		}
		ip = p.Addr()
	}
	return mac, ip, nil
}

// ipKey is an IPv4 as the programs key it: network order bytes as a u32.
func ipKey(ip netip.Addr) uint32 {
	if !ip.Is4() {
		return 0
	}
	b := ip.As4()
	return binary.NativeEndian.Uint32(b[:])
}

// hostOrder is an IPv4 in host byte order (bpf_tunnel_key.remote_ipv4).
func hostOrder(ip netip.Addr) uint32 {
	b := ip.As4()
	return binary.BigEndian.Uint32(b[:])
}

// rollback undoes this end's part of a failed migration for a NIC. At the source
// (the guest runs again there) the buffered frames go back into the tap, in
// order, behind the residue still queued in it, through RELEASE
// (rollbackSource); at the destination the HOLD entry goes and its unicast
// frames are counted as dropped "rollback_dest", its flooded ones apart
// (rollbackDest). An entry adopted
// from a previous run in MIRROR or BUFFER (its agent died as the source of
// a migration that the new run rolled back) is rolled back as a source's:
// the frames the previous run held are lost (dropped "restart"), those
// captured since go back into the tap. Calling it again, or without a
// migration, is a no-op.
func (h *Handoff) rollback(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return nil
	}
	v.mu.Lock()
	role := v.role
	st, exists, err := h.d.maps.state(v.key)
	v.mu.Unlock()
	switch {
	case role == roleSource:
		return h.rollbackSource(ctx, v)
	case role == roleDest:
		return h.rollbackDest(ctx, v)
	case err != nil:
		return fmt.Errorf("vm %s: reading its dataplane state: %w", spec.Name, err)
	case exists && (st.Mode == modeMirror || st.Mode == modeBuffer):
		v.log.Warn("rolling back a migration a previous run left", "mode", st.Mode.String())
		return h.rollbackSource(ctx, v)
	}
	return nil
}

// entryStats is this end's account of the current or last migration of
// the entry named name.
func (h *Handoff) entryStats(name string) api.HandoffStats {
	h.mu.Lock()
	st := h.stats[name]
	v := h.names[name]
	h.mu.Unlock()
	if st == nil {
		return api.HandoffStats{}
	}
	var ctr vmCounters
	var high int64
	if v != nil {
		ctr, _ = h.d.maps.countersOf(v.key)
		high = v.queue.HighWater()
	}
	return st.snapshot(ctr, high, time.Now())
}

// adopt loads the entries a previous run left in the pinned maps, so their
// records are recognised; entries in FORWARD without a tap get a new grace
// period.
func (h *Handoff) adopt() error {
	var k vmKey
	var st vmState
	it := h.d.maps.vms.Iterate()
	h.mu.Lock()
	defer h.mu.Unlock()
	for it.Next(&k, &st) {
		v := h.newEntry("", net.HardwareAddr(append([]byte(nil), k.Mac[:]...)), netip.Addr{})
		v.log = h.d.log.With("mac", k.String())
		rel, err := h.d.maps.releasedOf(k)
		if err != nil {
			return err
		}
		captured, err := h.d.maps.capturedOf(k)
		if err != nil {
			return err
		}
		// Records after rel are in the ring, or were taken by the previous
		// run and died with it: the ring reader counts those as dropped
		// "restart" (settleRestart) and finishes them, so RELEASE can end.
		v.setReleased(rel)
		v.order.next = rel + 1
		if captured > rel {
			v.order.restartUpTo, v.order.adoptedAt = captured, time.Now()
		}
		if st.GuardPort != 0 {
			// The previous run died while a post-copy ran here: the
			// program holds the traffic from the first frame since (or
			// will: its socket is gone). Hold it now; the run that resumes
			// the post-copy arms its own guard and releases it.
			if err := h.d.maps.update(k, func(st *vmState) {
				st.GuardPort = 0
				if st.Mode == modePass {
					st.Mode = modeHold
				}
			}); err != nil {
				return fmt.Errorf("adopting vm %s: %w", k, err)
			}
			v.log.Warn("the previous run died while a post-copy ran here: the guest's traffic is held until the post-copy resumes",
				"held_since_its_death", st.Mode == modeHold)
			if st.Mode == modePass {
				st.Mode = modeHold // as written above
			}
		}
		v.discard = !capturing(st.Mode) // records for a flush that went with the previous run
		if capturing(st.Mode) {
			v.log.Warn("adopted an entry in a capturing mode: frames the previous run held are lost", "mode", st.Mode.String(), "unfinished", captured-rel)
		}
		if st.Mode == modeForward && st.TapIfindex == 0 {
			v.startGrace(h)
		}
		h.d.log.Info("adopted pinned vm entry", "mac", k.String(), "mode", st.Mode.String())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading pinned vm entries: %w", err)
	}
	return nil
}

// tick runs in the ring reader when it is idle (the ring was empty for
// tickEvery), and every tickEvery while it is busy.
func (h *Handoff) tick(now time.Time, idle bool) {
	for _, v := range h.entries() {
		v.mu.Lock()
		if v.order.restartUpTo != 0 && (idle || now.Sub(v.order.adoptedAt) >= restartSettleBusy) {
			v.settleRestart()
		}
		v.skipStale(now)
		v.mu.Unlock()
	}
}

// stop ends the grace timers (the entries stay, in FORWARD, for the next
// run to adopt) and closes the guard sockets still armed, as this
// process's exit would: the traffic of a post-copy nobody watches now is
// held.
func (h *Handoff) stop() {
	for _, v := range h.entries() {
		v.mu.Lock()
		v.stopGrace()
		v.guard.close()
		v.guard = nil
		v.mu.Unlock()
	}
}

// closeHooks lets go of the tap hooks' descriptors (the links stay pinned).
func (h *Handoff) closeHooks() error {
	var errs []error
	for _, v := range h.entries() {
		v.mu.Lock()
		errs = append(errs, v.hook.Close())
		v.mu.Unlock()
	}
	return errors.Join(errs...)
}
