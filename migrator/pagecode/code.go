package pagecode

import "encoding/binary"

// code sends one page's payload as the smallest frame the destination
// can rebuild it from, and records where the destination now holds it.
func (e *Encoder) code(key pageKey, page []byte) {
	n := e.namer.name(page)
	f := e.frame[:0]
	tampered := e.tamper > 0 && e.stats.Refs+e.stats.Deltas+e.stats.Zstd+e.stats.Lits+1 >= e.tamper
	if tampered {
		e.tamper = 0
		e.log.Warn("test knob: altering a coded page after naming it", "page", e.stats.Pages)
		page = append(e.tampered[:0], page...)
		page[PageSize/2] ^= 0x5a
	}
	if slot, ok := e.m.lookup(n); ok && !tampered {
		e.stats.Refs++
		f = append(binary.AppendUvarint(append(f, kindRef), uint64(slot)), n[:]...)
		e.prev[key] = slotName{slot, n}
		e.sent(len(f))
		e.put(f)
		return
	}
	base := -1
	if pv, ok := e.prev[key]; ok && e.m.holds(pv.slot, pv.name) {
		base = pv.slot
	}
	best := PageSize
	var delta, z []byte
	if base >= 0 {
		var ok bool
		if delta, ok = appendDelta(e.dbuf[:0], e.m.page(base), page, best-1); ok {
			best = len(delta)
		} else {
			delta = nil
		}
	}
	if e.pol.tryZstd() {
		z = e.zenc.EncodeAll(page, e.zbuf[:0])
		e.pol.zstdResult(len(z))
		if len(z) < best {
			best, delta = len(z), nil
		} else {
			z = nil
		}
	}
	slot := e.m.victim(base)
	switch {
	case delta != nil:
		e.stats.Deltas++
		f = binary.AppendUvarint(append(f, kindDelta), uint64(base))
		f = append(binary.AppendUvarint(f, uint64(slot)), n[:]...)
		f = append(binary.AppendUvarint(f, uint64(len(delta))), delta...)
	case z != nil:
		e.stats.Zstd++
		f = append(binary.AppendUvarint(append(f, kindZstd), uint64(slot)), n[:]...)
		f = append(binary.AppendUvarint(f, uint64(len(z))), z...)
	default:
		e.stats.Lits++
		f = append(binary.AppendUvarint(append(f, kindLit), uint64(slot)), n[:]...)
		f = append(f, page...)
	}
	e.m.put(slot, n, page)
	e.prev[key] = slotName{slot, n}
	e.sent(len(f))
	e.put(f)
}

// sent tells the policy what a coded page cost on the link.
func (e *Encoder) sent(n int) { e.pol.coded(n) }
