package pagecode

import (
	"encoding/binary"
	"fmt"
)

// A delta rewrites a copy of its base: runs of (uvarint skip, uvarint n, n
// bytes), each skipping unchanged bytes, then overwriting n bytes. It is
// compared in 8-byte words: a guest's dirty writes are rarely smaller.

// appendDelta appends the delta from base to page to dst, giving up (ok
// false) once it would exceed limit bytes.
func appendDelta(dst, base, page []byte, limit int) (out []byte, ok bool) {
	start := len(dst)
	pos := 0 // bytes of page covered by runs so far
	for i := 0; i < len(page); {
		if binary.LittleEndian.Uint64(page[i:]) == binary.LittleEndian.Uint64(base[i:]) {
			i += 8
			continue
		}
		j := i + 8
		// A changed run ends at two equal words in a row: one equal
		// word costs less to copy than a new run's two headers.
		for j < len(page) && !(equalWord(page, base, j) && (j+8 >= len(page) || equalWord(page, base, j+8))) {
			j += 8
		}
		dst = binary.AppendUvarint(dst, uint64(i-pos))
		dst = binary.AppendUvarint(dst, uint64(j-i))
		dst = append(dst, page[i:j]...)
		if len(dst)-start > limit {
			return dst[:start], false
		}
		pos, i = j, j
	}
	return dst, true
}

func equalWord(a, b []byte, i int) bool {
	return binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:])
}

// applyDelta rewrites page (a copy of the base) with delta.
func applyDelta(page, delta []byte) error {
	pos := 0
	for len(delta) > 0 {
		skip, n1 := binary.Uvarint(delta)
		if n1 <= 0 {
			return fmt.Errorf("%w: delta run skip", ErrMalformed)
		}
		n, n2 := binary.Uvarint(delta[n1:])
		if n2 <= 0 {
			return fmt.Errorf("%w: delta run length", ErrMalformed)
		}
		delta = delta[n1+n2:]
		if skip > uint64(len(page)-pos) || n > uint64(len(page)-pos)-skip || n > uint64(len(delta)) {
			return fmt.Errorf("%w: delta run of %d after %d past the page", ErrMalformed, n, skip)
		}
		pos += int(skip)
		pos += copy(page[pos:], delta[:n])
		delta = delta[n:]
	}
	return nil
}
