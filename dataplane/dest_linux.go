package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
)

// Prepare (destination, before QEMU starts) puts the VM in HOLD. Without an
// Attach yet, the entry is made without a tap (Attach keeps HOLD).
func (h *Handoff) Prepare(ctx context.Context, spec api.VMSpec) error {
	mac, ip, err := parseSpec(spec)
	if err != nil {
		return err
	}
	h.mu.Lock()
	v := h.names[spec.Name]
	if v == nil {
		v = h.vms[keyOf(mac)]
	}
	if v == nil {
		v = h.newEntry(spec.Name, mac, ip)
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
		if err := v.baseline(m); err != nil {
			return err
		}
		st = vmState{IP: ipKey(ip), TunIfindex: uint32(h.d.tunIndex), TapIfindex: uint32(v.tap.Ifindex)}
	}
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
	v.role, v.discard, v.held = roleDest, false, heldState{}
	v.log.Info("hold")
	return nil
}

// Started (destination, right after cont) sends the gratuitous ARPs from
// the VM's MAC and IPv4 out of the uplink, in the background.
func (h *Handoff) Started(ctx context.Context, spec api.VMSpec) error {
	v, err := h.lookup(spec)
	if err != nil {
		return err
	}
	cfg := h.d.cfg
	if cfg.Uplink == "" || !v.ip.Is4() || cfg.GARPCount == 0 {
		v.log.Info("no gratuitous ARP (no uplink, IPv4 or count)")
		return nil
	}
	done := make(chan struct{})
	v.mu.Lock()
	v.garpDone = done
	v.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		n, err := SendGARP(h.d.ctx, cfg.Uplink, net.HardwareAddr(v.mac), v.ip, cfg.GARPCount, cfg.GARPInterval)
		v.stats.update(func(s *api.HandoffStats) { s.GARPs += n })
		if err != nil {
			v.log.Warn("gratuitous ARP", "sent", n, "err", err)
		}
	}()
	return nil
}

// Flushed (destination) injects the flush stream into the tap, then
// releases the HOLD queue: it returns when every frame captured so far is
// injected; the program then flips to PASS on the next frame (a background
// release goes on until it has).
func (h *Handoff) Flushed(ctx context.Context, spec api.VMSpec, flush handoff.Stream) error {
	v, err := h.lookup(spec)
	if err != nil {
		if flush != nil {
			io.Copy(io.Discard, flush)
		}
		return err
	}
	v.mu.Lock()
	tap := v.tap.Name
	v.mu.Unlock()
	if tap == "" {
		return fmt.Errorf("vm %s: flushed without a tap", spec.Name)
	}
	inj, err := NewInjector(tap, v.log)
	if err != nil {
		return fmt.Errorf("vm %s: %w", spec.Name, err)
	}
	var ferr error
	if flush != nil {
		ferr = h.injectFlush(ctx, v, inj, flush)
	}
	drained, err := h.startRelease(v, inj, false)
	if err != nil {
		return errors.Join(ferr, err)
	}
	select {
	case <-drained:
	case <-ctx.Done():
		ferr = errors.Join(ferr, fmt.Errorf("vm %s: releasing hold: %w", spec.Name, ctx.Err()))
	}
	// The report that follows counts the gratuitous ARPs: let them finish
	// (a few hundred milliseconds with the default count and interval).
	v.mu.Lock()
	garp := v.garpDone
	v.mu.Unlock()
	if garp != nil {
		select {
		case <-garp:
		case <-ctx.Done():
		}
	}
	return ferr
}

// injectFlush injects every frame of the flush stream, in order.
func (h *Handoff) injectFlush(ctx context.Context, v *vmEntry, inj *Injector, flush io.Reader) error {
	r := NewFlushReader(flush)
	var n, failed uint64
	var err error
	for {
		var b []byte
		if _, b, err = r.Next(); err != nil {
			break
		}
		if ierr := inj.Inject(ctx, b); ierr != nil {
			failed++
			v.log.Warn("injecting a flushed frame", "err", ierr)
			continue
		}
		n++
	}
	v.stats.update(func(s *api.HandoffStats) { s.Flushed += n })
	v.stats.drop(dropInject, failed)
	if errors.Is(err, io.EOF) {
		v.log.Info("flush injected", "frames", n)
		return nil
	}
	io.Copy(io.Discard, flush)
	// The source counts what it could not send; frames cut off here are
	// counted by the source as sent, so the report shows the difference.
	return fmt.Errorf("vm %s: reading flush after %d frames: %w", v.name, n, err)
}
