package dataplane

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// Roles of a VM entry in its current migration.
const (
	roleNone   = ""
	roleSource = "source"
	roleDest   = "destination"
)

// Handoff is the dataplane's handoff.Handoff: it moves a VM's traffic with
// the VM (see the package doc and handoff.Handoff for the call order).
type Handoff struct {
	d     *Dataplane
	log   *slog.Logger
	mu    sync.Mutex
	vms   map[vmKey]*vmEntry
	names map[string]*vmEntry
	stats map[string]*stats // by VM name; kept after the entry goes
	wg    sync.WaitGroup    // background work (release, GARPs)
}

var _ handoff.Handoff = (*Handoff)(nil)

// vmEntry is what user space keeps of a VM.
type vmEntry struct {
	key  vmKey
	name string
	mac  net.HardwareAddr
	ip   netip.Addr
	log  *slog.Logger

	mu               sync.Mutex // guards the fields below
	tap              handoff.Tap
	hook             *hook
	role             string
	peer             netip.Addr
	grace            *time.Timer
	nextSeq          uint64 // next record sequence number expected (0: not known yet)
	restartUpTo      uint64 // adopted: records up to here the previous run took and never finished are lost (0: none)
	adoptedAt        time.Time
	pending          map[uint64]frame
	pendingSince     time.Time
	discard          bool // captured frames are no longer wanted (counted already)
	mirror           mirrorRing
	baseCtr          vmCounters  // program counters at Begin
	baseDev          DevCounters // tap counters at Begin
	held             heldState
	quiesced         bool          // Quiesce set BUFFER with the guest running
	releasing        chan struct{} // closed when a running release ends
	releasingDrained chan struct{} // closed when it has injected all captured so far
	garpDone         chan struct{} // closed when the gratuitous ARPs of Started are out

	relMu    sync.Mutex
	released uint64 // records finished with (mirrors the released map)
	relErr   error
	maps     *bpfMaps

	queue *queue
	stats *stats
}

// finish marks n more records as finished with (injected, flushed or
// discarded) in the released map the RELEASE mode compares with.
func (v *vmEntry) finish(n uint64) {
	if n == 0 {
		return
	}
	v.relMu.Lock()
	defer v.relMu.Unlock()
	v.released += n
	if err := v.maps.setReleased(v.key, v.released); err != nil && v.relErr == nil {
		v.relErr = err
		v.log.Error("updating released", "err", err)
	}
}

func newHandoff(d *Dataplane) *Handoff {
	return &Handoff{d: d, log: d.log, vms: map[vmKey]*vmEntry{}, names: map[string]*vmEntry{}, stats: map[string]*stats{}}
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
		log:     h.log.With("vm", name),
		pending: map[uint64]frame{}, maps: h.d.maps,
		queue: newQueue(h.d.cfg.QueueBytes), stats: st,
	}
	h.vms[v.key] = v
	if name != "" {
		h.names[name] = v
	}
	return v
}

func (h *Handoff) byKey(k vmKey) *vmEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vms[k]
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

// Attach sets up the VM's entry (mode kept if it exists, else PASS) and its
// tap hook.
func (h *Handoff) Attach(ctx context.Context, spec api.VMSpec, tap handoff.Tap) error {
	mac, ip, err := parseSpec(spec)
	if err != nil {
		return err
	}
	if tap.Ifindex <= 0 {
		if tap.Ifindex, err = ifindexOf(tap.Name); err != nil {
			return fmt.Errorf("attaching vm %s: %w", spec.Name, err)
		}
	}
	h.mu.Lock()
	v := h.vms[keyOf(mac)]
	if old := h.names[spec.Name]; old != nil && old != v {
		h.mu.Unlock()
		return fmt.Errorf("attaching vm %s: already attached with MAC %s", spec.Name, old.mac)
	}
	if v == nil {
		v = h.newEntry(spec.Name, mac, ip)
	} else if v.name != spec.Name {
		delete(h.names, v.name)
		if v.name == "" {
			h.stats[spec.Name] = v.stats // adopted: what it counted since the restart
		} else {
			if h.stats[spec.Name] == nil {
				h.stats[spec.Name] = newStats()
			}
			v.stats = h.stats[spec.Name]
		}
		v.name, v.ip = spec.Name, ip
		v.log = h.log.With("vm", spec.Name)
		h.names[spec.Name] = v
	}
	h.mu.Unlock()

	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopGrace()
	m := h.d.maps
	st, exists, err := m.state(v.key)
	if err != nil {
		return err
	}
	if !exists {
		st = vmState{Mode: modePass}
		if err := v.baseline(m); err != nil {
			return err
		}
	}
	st.IP, st.TapIfindex, st.TunIfindex = ipKey(ip), uint32(tap.Ifindex), uint32(h.d.tunIndex)
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
	if v.hook != nil && (v.hook.ifindex != tap.Ifindex || v.hook.ifname != tap.Name) {
		if err := v.hook.detach(); err != nil {
			v.log.Warn("detaching old tap hook", "err", err)
		}
		v.hook = nil
	}
	if v.hook == nil {
		hk, err := attachHook(h.d.cfg.PinDir, tap.Name, tap.Ifindex, hookTapEgress, h.d.objs.TapEgress, true, h.d.cfg.ForceClsact, v.log)
		if err != nil {
			return fmt.Errorf("vm %s: %w", spec.Name, err)
		}
		v.hook = hk
	}
	v.tap = tap
	v.log.Info("attached", "tap", tap.Name, "mode", modeName(st.Mode))
	return nil
}

// Detach removes the tap hook and mapping. An entry in FORWARD (the VM has
// moved away) keeps forwarding for ForwardGrace; any other goes now.
func (h *Handoff) Detach(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return nil // never attached, or gone already
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	m := h.d.maps
	errs := []error{v.hook.detach(), m.unmapIfindex(v.key, uint32(v.tap.Ifindex))}
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

// startGrace removes the entry after ForwardGrace (v.mu held).
func (v *vmEntry) startGrace(h *Handoff) {
	v.stopGrace()
	v.grace = time.AfterFunc(h.d.cfg.ForwardGrace, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.grace == nil || v.tap.Ifindex != 0 {
			return
		}
		v.grace = nil
		if err := h.removeLocked(v); err != nil {
			v.log.Error("removing forward entry", "err", err)
			return
		}
		v.log.Info("forward grace over: entry removed")
	})
}

func (v *vmEntry) stopGrace() {
	if v.grace != nil {
		v.grace.Stop()
		v.grace = nil
	}
}

// removeLocked deletes v's BPF entries and forgets it (v.mu held). Frames
// still wanted (queued, or captured and in the ring) are counted as dropped
// "detached".
func (h *Handoff) removeLocked(v *vmEntry) error {
	if !v.discard {
		// Frames captured and not yet handed on (queued, or still in the
		// ring) go with the entry: a Detach during BUFFER, HOLD or RELEASE.
		n := uint64(len(v.queue.Drain()))
		if captured, err := h.d.maps.capturedOf(v.key); err == nil && captured > v.consumed() {
			if st, ok, err := h.d.maps.state(v.key); err == nil && ok && capturing(uint8(st.Mode)) {
				n += captured - v.consumed()
			}
		}
		v.stats.drop(dropDetached, n)
		if n > 0 {
			v.log.Warn("captured frames dropped with the entry", "frames", n)
		}
	}
	if ctr, err := h.d.maps.countersOf(v.key); err == nil {
		v.stats.freeze(ctr)
	}
	v.stats.enter("", time.Now())
	v.discard = true
	err := h.d.maps.remove(v.key, uint32(v.tap.Ifindex), ipKey(v.ip))
	h.mu.Lock()
	if h.vms[v.key] == v {
		delete(h.vms, v.key)
	}
	if h.names[v.name] == v {
		delete(h.names, v.name)
	}
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("removing vm %s: %w", v.name, err)
	}
	return nil
}

// setMode writes mode into the VM's entry and times it (v.mu held).
func (h *Handoff) setMode(v *vmEntry, mode uint32, timed string, fn func(*vmState)) error {
	err := h.d.maps.update(v.key, func(st *vmState) {
		st.Mode = mode
		if fn != nil {
			fn(st)
		}
	})
	if err != nil {
		return fmt.Errorf("vm %s: setting %s: %w", v.name, modeName(mode), err)
	}
	v.stats.enter(timed, time.Now())
	v.log.Debug("mode", "mode", modeName(mode))
	return nil
}

// Stats is this end's account of the VM's current or last migration.
func (h *Handoff) Stats(spec api.VMSpec) api.HandoffStats {
	h.mu.Lock()
	st := h.stats[spec.Name]
	v := h.names[spec.Name]
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
		v := h.newEntry("", net.HardwareAddr(append([]byte(nil), k.MAC[:]...)), netip.Addr{})
		v.log = h.log.With("mac", k.String())
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
		v.released, v.nextSeq = rel, rel+1
		if captured > rel {
			v.restartUpTo, v.adoptedAt = captured, time.Now()
		}
		v.discard = !capturing(uint8(st.Mode)) // records for a flush that went with the previous run
		if capturing(uint8(st.Mode)) {
			v.log.Warn("adopted an entry in a capturing mode: frames the previous run held are lost", "mode", modeName(st.Mode), "unfinished", captured-rel)
		}
		if st.Mode == modeForward && st.TapIfindex == 0 {
			v.startGrace(h)
		}
		h.log.Info("adopted pinned vm entry", "mac", k.String(), "mode", modeName(st.Mode))
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading pinned vm entries: %w", err)
	}
	return nil
}

// tick runs in the ring reader when it is idle (the ring was empty for
// tickEvery), and every tickEvery while it is busy.
func (h *Handoff) tick(now time.Time, idle bool) {
	h.mu.Lock()
	vs := make([]*vmEntry, 0, len(h.vms))
	for _, v := range h.vms {
		vs = append(vs, v)
	}
	h.mu.Unlock()
	for _, v := range vs {
		v.mu.Lock()
		if v.restartUpTo != 0 && (idle || now.Sub(v.adoptedAt) >= restartSettleBusy) {
			v.settleRestart()
		}
		v.skipStale(now)
		v.mu.Unlock()
	}
}

// stop ends the grace timers (the entries stay, in FORWARD, for the next
// run to adopt).
func (h *Handoff) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range h.vms {
		v.mu.Lock()
		v.stopGrace()
		v.mu.Unlock()
	}
}

// closeHooks lets go of the tap hooks' descriptors (the links stay pinned).
func (h *Handoff) closeHooks() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, v := range h.vms {
		v.mu.Lock()
		errs = append(errs, v.hook.close())
		v.mu.Unlock()
	}
	return errors.Join(errs...)
}

func specNamed(name string) api.VMSpec { return api.VMSpec{Name: name} }

// baseline starts a new entry's bookkeeping (v.mu held): its counters
// exist, and sequence and released continue from what the program has
// captured so far, so RELEASE compares like with like.
func (v *vmEntry) baseline(m *bpfMaps) error {
	if err := m.ensureCounts(v.key); err != nil {
		return err
	}
	cur, err := m.capturedOf(v.key)
	if err != nil {
		return err
	}
	v.nextSeq = cur + 1
	v.relMu.Lock()
	v.released = cur
	v.relMu.Unlock()
	return m.setReleased(v.key, cur)
}
