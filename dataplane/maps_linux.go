package dataplane

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/cilium/ebpf"
)

// bpfMaps are the per-VM maps shared with the programs.
type bpfMaps struct {
	vms, byIfindex, byIP, captured, released, counters *ebpf.Map
	tunnelPeers, tunnelDrops                           *ebpf.Map
	ncpu                                               int
}

func newBPFMaps(o *handoffObjects) (*bpfMaps, error) {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		n = runtime.NumCPU()
	}
	return &bpfMaps{
		vms: o.Vms, byIfindex: o.VmByIfindex, byIP: o.VmByIp,
		captured: o.Captured, released: o.Released, counters: o.Counters,
		tunnelPeers: o.TunnelPeers, tunnelDrops: o.TunnelDrops, ncpu: n,
	}, nil
}

// state returns the VM entry of k; ok is false when there is none.
func (m *bpfMaps) state(k vmKey) (st vmState, ok bool, err error) {
	err = m.vms.Lookup(k, &st)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("looking up vm %s: %w", k, err)
	}
	return st, true, nil
}

func (m *bpfMaps) putState(k vmKey, st vmState) error {
	if err := m.vms.Put(k, st); err != nil {
		return fmt.Errorf("writing vm %s: %w", k, err)
	}
	return nil
}

// update applies fn to the VM entry of k (which must exist) and writes it.
func (m *bpfMaps) update(k vmKey, fn func(*vmState)) error {
	st, ok, err := m.state(k)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("vm %s: no dataplane entry", k)
	}
	fn(&st)
	return m.putState(k, st)
}

// ensureCounts creates the captured, released and counters entries of k
// (zero) unless they exist.
func (m *bpfMaps) ensureCounts(k vmKey) error {
	var zero uint64
	for _, mp := range []*ebpf.Map{m.captured, m.released} {
		if err := mp.Update(k, zero, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
			return fmt.Errorf("creating %s entry of %s: %w", mp, k, err)
		}
	}
	zeros := make([]vmCounters, m.ncpu)
	if err := m.counters.Update(k, zeros, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("creating counters of %s: %w", k, err)
	}
	return nil
}

// count reads a per-VM u64 (captured or released); 0 when missing.
func count(mp *ebpf.Map, k vmKey) (uint64, error) {
	var n uint64
	err := mp.Lookup(k, &n)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s of %s: %w", mp, k, err)
	}
	return n, nil
}

func (m *bpfMaps) capturedOf(k vmKey) (uint64, error) { return count(m.captured, k) }
func (m *bpfMaps) releasedOf(k vmKey) (uint64, error) { return count(m.released, k) }

func (m *bpfMaps) setReleased(k vmKey, n uint64) error {
	if err := m.released.Put(k, n); err != nil {
		return fmt.Errorf("writing released of %s: %w", k, err)
	}
	return nil
}

// countersOf sums k's counters over the CPUs (zero when missing).
func (m *bpfMaps) countersOf(k vmKey) (vmCounters, error) {
	var per []vmCounters
	var sum vmCounters
	err := m.counters.Lookup(k, &per)
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return sum, nil
	}
	if err != nil {
		return sum, fmt.Errorf("reading counters of %s: %w", k, err)
	}
	for _, c := range per {
		sum.add(c)
	}
	return sum, nil
}

// mapIndexes points the tap ifindex and the IPv4 (network order bytes as
// a u32, 0 = none) at k.
func (m *bpfMaps) mapIndexes(k vmKey, ifindex, ip uint32) error {
	if ifindex != 0 {
		if err := m.byIfindex.Put(ifindex, k); err != nil {
			return fmt.Errorf("mapping ifindex %d to %s: %w", ifindex, k, err)
		}
	}
	if ip != 0 {
		if err := m.byIP.Put(ip, k); err != nil {
			return fmt.Errorf("mapping the IPv4 of %s: %w", k, err)
		}
	}
	return nil
}

// unmapIfindex removes the tap mapping if it still points at k.
func (m *bpfMaps) unmapIfindex(k vmKey, ifindex uint32) error {
	var cur vmKey
	if ifindex == 0 || m.byIfindex.Lookup(ifindex, &cur) != nil || cur != k {
		return nil
	}
	return del(m.byIfindex, ifindex)
}

// remove deletes every entry of k (and its IPv4 mapping if it points at k).
func (m *bpfMaps) remove(k vmKey, ifindex, ip uint32) error {
	errs := []error{m.unmapIfindex(k, ifindex)}
	var cur vmKey
	if ip != 0 && m.byIP.Lookup(ip, &cur) == nil && cur == k {
		errs = append(errs, del(m.byIP, ip))
	}
	for _, mp := range []*ebpf.Map{m.vms, m.captured, m.released, m.counters} {
		errs = append(errs, del(mp, k))
	}
	return errors.Join(errs...)
}

func del(mp *ebpf.Map, k any) error {
	if err := mp.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("deleting from %s: %w", mp, err)
	}
	return nil
}
