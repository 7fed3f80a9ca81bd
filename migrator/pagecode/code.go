package pagecode

import "encoding/binary"

// code sends one page's payload as the smallest frame the destination
// can rebuild it from, and records where the destination now holds it.
func (e *Encoder) code(key pageKey, page []byte) {
	n := e.namer.name(page)
	f := e.frame[:0]
	orig := page
	tampered := e.tamper > 0 && e.stats.Refs+e.stats.Deltas+e.stats.Lits+1 >= e.tamper
	if tampered {
		page = append(e.tampered[:0], page...)
		page[PageSize/2] ^= 0x5a
	}
	at := stamp{e.stream, e.seq + 1}
	if slot, ok := e.g.ref(n, at); ok && !tampered {
		e.seq++
		e.stats.Refs++
		f = append(binary.AppendUvarint(append(f, kindRef), uint64(slot)), n[:]...)
		e.prev[key] = slotName{slot, n}
		e.pol.coded(true)
		e.put(f)
		return
	}
	base := -1
	pv, ok := e.prev[key]
	if ok && e.g.base(pv.slot, pv.name, e.stream, e.basebuf) {
		base = pv.slot
	}
	var delta []byte
	if base >= 0 {
		// Worth it only well below a literal, which the link's
		// compression may shrink too.
		if d, ok := appendDelta(e.dbuf[:0], e.basebuf, page, PageSize/2); ok {
			delta = d
		}
	}
	slot, withBase := e.g.store(n, page, at, base, pv.name)
	if slot < 0 {
		// No slot may be overwritten yet (other streams' frames on
		// the way): the page goes as QEMU wrote it.
		e.stats.Raw++
		e.raw = append(e.raw, orig...)
		e.flushRaw()
		return
	}
	if tampered {
		e.tamper = 0
		e.log.Warn("test knob: a coded page altered after naming it", "page", e.stats.Pages)
	}
	e.seq++
	if !withBase {
		delta = nil
	}
	switch {
	case delta != nil:
		e.stats.Deltas++
		f = binary.AppendUvarint(append(f, kindDelta), uint64(base))
		f = append(binary.AppendUvarint(f, uint64(slot)), n[:]...)
		f = append(binary.AppendUvarint(f, uint64(len(delta))), delta...)
	default:
		e.stats.Lits++
		f = append(binary.AppendUvarint(append(f, kindLit), uint64(slot)), n[:]...)
		f = append(f, page...)
	}
	e.prev[key] = slotName{slot, n}
	e.pol.coded(delta != nil)
	e.put(f)
}
