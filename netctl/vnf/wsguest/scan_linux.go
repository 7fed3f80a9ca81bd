package wsguest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Pagemap entries (Documentation/admin-guide/mm/pagemap.rst): bit 63
// present, bits 0-54 the frame (zero unless CAP_SYS_ADMIN).
const (
	pmPresent = 1 << 63
	pmPFNMask = 1<<55 - 1
	pageSize  = 4096
	// maxScanPages bounds the pages of other mappings looked at per
	// report (4 GiB of address space; 8 MiB of pagemap).
	maxScanPages = 1 << 20
)

// span is a range of virtual addresses [lo, hi).
type span struct{ lo, hi uintptr }

// scanner reads the process's pagemap.
type scanner struct {
	pagemap *os.File
	entries []byte
}

// resident adds the frames of the resident pages of s to out, in address
// order, and returns the number of pages it looked at.
func (sc *scanner) resident(s span, out *ranges) (int, error) {
	if sc.entries == nil {
		sc.entries = make([]byte, 8*512)
	}
	lo, hi := s.lo/pageSize, (s.hi+pageSize-1)/pageSize
	for p := lo; p < hi; {
		n := min(uintptr(len(sc.entries)/8), hi-p)
		b := sc.entries[:8*n]
		k, err := sc.pagemap.ReadAt(b, int64(p*8))
		if k == 0 {
			if err == io.EOF {
				err = nil // beyond what pagemap serves
			}
			return int(p - lo), err
		}
		for i := 0; i+8 <= k; i += 8 {
			e := binary.LittleEndian.Uint64(b[i:])
			if e&pmPresent != 0 && e&pmPFNMask != 0 {
				out.add(e & pmPFNMask)
			}
		}
		p += uintptr(k / 8)
	}
	return int(hi - lo), nil
}

// mappings lists the readable mappings of /proc/self/maps, executable
// ones and the stack first, without the parts in skip.
func mappings(r io.Reader, skip span) ([]span, error) {
	var first, rest []span
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' || (len(f) >= 6 && f[5] == "[vsyscall]") {
			continue // PROT_NONE reservations, guard pages, the vsyscall page
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("maps line %q", sc.Text())
		}
		parts := cut(span{uintptr(a), uintptr(b)}, skip)
		if f[1][2] == 'x' || (len(f) >= 6 && f[5] == "[stack]") {
			first = append(first, parts...)
		} else {
			rest = append(rest, parts...)
		}
	}
	return append(first, rest...), sc.Err()
}

// cut is s without skip (none, one or two spans).
func cut(s, skip span) []span {
	if skip.hi <= s.lo || skip.lo >= s.hi {
		return []span{s}
	}
	var out []span
	if s.lo < skip.lo {
		out = append(out, span{s.lo, skip.lo})
	}
	if skip.hi < s.hi {
		out = append(out, span{skip.hi, s.hi})
	}
	return out
}
