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
			return unexpected(err)
		}
		d.count(func(s *Stats) { s.In += int64(1 + uvarintLen(uint64(n)) + n); s.Out += int64(n) })
		return nil
	}
	in, err := d.page1(kind)
	if err != nil {
		return err
	}
	d.count(func(s *Stats) { s.In += int64(in); s.Out += PageSize; s.Pages++ })
	_, err = out.Write(d.page)
	return err
}

// page1 rebuilds a page frame's content into d.page, checks its name and
// stores it; it returns the frame's size.
func (d *Decoder) page1(kind byte) (int, error) {
	var base, slot, n int
	var err error
	switch kind {
	case kindRef:
		if slot, err = d.slot("ref slot"); err != nil {
			return 0, err
		}
		name, err := d.name()
		if err != nil {
			return 0, err
		}
		gs := d.gs
		gs.mu.Lock()
		held := gs.st.holds(slot, name)
		if held {
			copy(d.page, gs.st.page(slot))
		}
		gs.mu.Unlock()
		if !held {
			return 0, fmt.Errorf("%w: slot %d does not hold %x", ErrMismatch, slot, name)
		}
		d.seq.Add(1)
		d.count(func(s *Stats) { s.Refs++ })
		return 1 + uvarintLen(uint64(slot)) + len(name), nil
	case kindDelta:
		if base, err = d.slot("delta base"); err != nil {
			return 0, err
		}

	case kindLit, kindZstd:
	default:
		return 0, fmt.Errorf("%w: frame kind %d", ErrMalformed, kind)
	}
	if slot, err = d.slot("slot"); err != nil {
		return 0, err
	}
	name, err := d.name()
	if err != nil {
		return 0, err
	}
	size := 1 + uvarintLen(uint64(slot)) + len(name)
	switch kind {
	case kindLit:
		if _, err := io.ReadFull(d.in, d.page); err != nil {
			return 0, unexpected(err)
		}
		size += PageSize
		d.count(func(s *Stats) { s.Lits++ })
	case kindZstd:
		if n, err = d.uvarint("zstd length", PageSize); err != nil {
			return 0, err
		}
		if err := d.unzstd(n); err != nil {
			return 0, err
		}
		size += uvarintLen(uint64(n)) + n
		d.count(func(s *Stats) { s.Zstd++ })
	case kindDelta:
		if n, err = d.uvarint("delta length", maxDelta); err != nil {
			return 0, err
		}
		buf := d.scratch[:n]
		if _, err := io.ReadFull(d.in, buf); err != nil {
			return 0, unexpected(err)
		}
		gs := d.gs
		gs.mu.Lock()
		used := gs.st.used[base]
		copy(d.page, gs.st.page(base))
		gs.mu.Unlock()
		if !used {
			return 0, fmt.Errorf("%w: delta against empty slot %d", ErrMismatch, base)
		}
		if err := applyDelta(d.page, buf); err != nil {
			return 0, err
		}
		size += uvarintLen(uint64(base)) + uvarintLen(uint64(n)) + n
		d.count(func(s *Stats) { s.Deltas++ })
	}
	if got := d.nm.name(d.page); got != name {
		return 0, fmt.Errorf("%w: slot %d rebuilt as %x, named %x", ErrMismatch, slot, got, name)
	}
	d.gs.mu.Lock()
	d.gs.st.put(slot, name, d.page)
	d.gs.mu.Unlock()
	d.seq.Add(1)
	return size, nil
}

func (d *Decoder) unzstd(n int) error {
	if d.zdec == nil {
		z, err := newZstdDecoder()
		if err != nil {
			return err
		}
		d.zdec = z
	}
	buf := d.scratch[:n]
	if _, err := io.ReadFull(d.in, buf); err != nil {
		return unexpected(err)
	}
	got, err := d.zdec.DecodeAll(buf, d.page[:0])
	if err != nil {
		return fmt.Errorf("%w: zstd: %w", ErrMalformed, err)
	}
	if len(got) != PageSize || &got[0] != &d.page[0] {
		return fmt.Errorf("%w: zstd page of %d bytes", ErrMalformed, len(got))
	}
	return nil
}
