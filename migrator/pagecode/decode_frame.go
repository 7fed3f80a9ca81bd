package pagecode

import (
	"fmt"
	"io"
)

// frame rebuilds one frame's bytes onto out.
func (d *Decoder) frame(kind byte, out io.Writer) error {
	if kind == kindRaw {
		n, err := d.uvarint("raw length", maxRaw)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: empty raw frame", ErrMalformed)
		}
		if _, err := io.CopyN(out, d.in, int64(n)); err != nil {
			return d.unexpected(err)
		}
		d.count(func(s *Stats) { s.Out += int64(n) })
		return nil
	}
	if err := d.page1(kind); err != nil {
		return err
	}
	d.count(func(s *Stats) { s.Out += PageSize; s.Pages++ })
	_, err := out.Write(d.page)
	return err
}

// page1 rebuilds a page frame's content into d.page, checks its name and
// stores it.
func (d *Decoder) page1(kind byte) error {
	var base, slot, n int
	var err error
	switch kind {
	case kindRef:
		if slot, err = d.slot("ref slot"); err != nil {
			return err
		}
		name, err := d.name()
		if err != nil {
			return err
		}
		gs := d.gs
		gs.mu.Lock()
		held := gs.st.holds(slot, name)
		if held {
			copy(d.page, gs.st.page(slot))
		}
		gs.mu.Unlock()
		if !held {
			return fmt.Errorf("%w: slot %d does not hold %x", ErrMismatch, slot, name)
		}
		d.seq.Add(1)
		d.count(func(s *Stats) { s.Refs++ })
		return nil
	case kindDelta:
		if base, err = d.slot("delta base"); err != nil {
			return err
		}

	case kindLit:
	default:
		return fmt.Errorf("%w: frame kind %d", ErrMalformed, kind)
	}
	if slot, err = d.slot("slot"); err != nil {
		return err
	}
	name, err := d.name()
	if err != nil {
		return err
	}
	switch kind {
	case kindLit:
		if _, err := io.ReadFull(d.in, d.page); err != nil {
			return d.unexpected(err)
		}
		d.count(func(s *Stats) { s.Lits++ })
	case kindDelta:
		if n, err = d.uvarint("delta length", maxDelta); err != nil {
			return err
		}
		buf := d.scratch[:n]
		if _, err := io.ReadFull(d.in, buf); err != nil {
			return d.unexpected(err)
		}
		gs := d.gs
		gs.mu.Lock()
		used := gs.st.used[base]
		copy(d.page, gs.st.page(base))
		gs.mu.Unlock()
		if !used {
			return fmt.Errorf("%w: delta against empty slot %d", ErrMismatch, base)
		}
		if err := applyDelta(d.page, buf); err != nil {
			return err
		}
		d.count(func(s *Stats) { s.Deltas++ })
	}
	if got := d.nm.name(d.page); got != name {
		return fmt.Errorf("%w: slot %d rebuilt as %x, named %x", ErrMismatch, slot, got, name)
	}
	d.gs.mu.Lock()
	d.gs.st.put(slot, name, d.page)
	d.gs.mu.Unlock()
	d.seq.Add(1)
	return nil
}
