package wsreport

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// Length checks the header h (at least HeaderLen bytes) and returns the
// length of the whole report, so that a reader knows how much to take
// before it takes it. The length is at most MaxReportBytes.
func Length(h []byte) (int, error) {
	if len(h) < HeaderLen {
		return 0, fmt.Errorf("%w: %d-byte header, want %d", ErrLength, len(h), HeaderLen)
	}
	if [4]byte(h[:4]) != Magic {
		return 0, fmt.Errorf("%w %q", ErrMagic, h[:4])
	}
	if v := binary.BigEndian.Uint16(h[4:]); v != Version {
		return 0, fmt.Errorf("%w %d", ErrVersion, v)
	}
	n := binary.BigEndian.Uint32(h[8:])
	nr := binary.BigEndian.Uint32(h[32:])
	switch {
	case n > MaxReportBytes:
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, MaxReportBytes)
	case nr > MaxRanges:
		return 0, fmt.Errorf("%w: %d ranges, at most %d", ErrTooLarge, nr, MaxRanges)
	case uint64(n) != HeaderLen+RangeLen*uint64(nr):
		return 0, fmt.Errorf("%w: %d bytes for %d ranges", ErrLength, n, nr)
	case binary.BigEndian.Uint32(h[36:]) > nr:
		return 0, fmt.Errorf("%w: hot %d of %d ranges", ErrLength, binary.BigEndian.Uint32(h[36:]), nr)
	}
	return int(n), nil
}

// Decode decodes the report that is exactly b. Its allocation is bounded
// by len(b), checked against the header first.
func Decode(b []byte) (Report, error) {
	n, err := Length(b)
	if err != nil {
		return Report{}, err
	}
	if len(b) != n {
		return Report{}, fmt.Errorf("%w: %d bytes, header says %d", ErrLength, len(b), n)
	}
	want := binary.BigEndian.Uint32(b[12:])
	c := crc32.Update(0, castagnoli, b[:12])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	if c = crc32.Update(c, castagnoli, b[16:]); c != want {
		return Report{}, fmt.Errorf("%w: %#08x, want %#08x", ErrChecksum, c, want)
	}
	r := Report{
		Flags:  binary.BigEndian.Uint16(b[6:]),
		Seq:    binary.BigEndian.Uint64(b[16:]),
		Uptime: time.Duration(binary.BigEndian.Uint64(b[24:])),
		Hot:    int(binary.BigEndian.Uint32(b[36:])),
		Ranges: make([]Range, (n-HeaderLen)/RangeLen),
	}
	for i := range r.Ranges {
		p := b[HeaderLen+i*RangeLen:]
		x := Range{Start: binary.BigEndian.Uint64(p), Count: binary.BigEndian.Uint32(p[8:])}
		if err := checkRange(x); err != nil {
			return Report{}, fmt.Errorf("range %d: %w", i, err)
		}
		r.Ranges[i] = x
	}
	return r, nil
}
