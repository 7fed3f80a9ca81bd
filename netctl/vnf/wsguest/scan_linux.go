package wsguest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
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
	// maxKernelFrames bounds the frames whose kernel page flags a report
	// reads (4 GiB of guest memory; 8 MiB of kpageflags).
	maxKernelFrames = 1 << 20
)

// Kernel page flags (Documentation/admin-guide/mm/pagemap.rst).
const (
	kpfSlab     = 1 << 7
	kpfLRU      = 1 << 5
	kpfBuddy    = 1 << 10
	kpfCompHead = 1 << 15
	kpfCompTail = 1 << 16
	kpfHuge     = 1 << 17
	kpfTHP      = 1 << 22
	kpfPgtable  = 1 << 26
	kpfReserved = 1 << 32
)

// frameKind sorts the kernel's frames by when a report names them.
type frameKind int

const (
	notKernel frameKind = iota
	// packetPath: page tables and the kernel's own multi-page buffers,
	// which are neither on an LRU list nor free nor huge pages. Every
	// packet lands in the network's receive buffers (virtio-net's 32 KiB
	// fragments, written by QEMU as the packet arrives) and every access
	// of the working set walks the page tables (whose accessed and dirty
	// bits it sets): after a post-copy switch these are touched first,
	// so the report names them before the working set.
	packetPath
	// kernelObject: slab, the kernel's objects (socket buffers' heads
	// among many others), and the reserved frames (the kernel's image
	// with its data, the array of page structures every allocation
	// writes, per-CPU areas: most post-copy faults outside the report
	// fell there, near the top of RAM), named after the working set.
	// Their code is among them, but a page QEMU does not have to send
	// again costs the prefetch nothing.
	kernelObject
)

// kernelKind says which of the kernel's frames the guest's work keeps
// writing, from their kernel page flags. The page cache is not among
// them: it is not rewritten.
func kernelKind(f uint64) frameKind {
	switch {
	case f&kpfPgtable != 0:
		return packetPath
	case f&(kpfSlab|kpfReserved) != 0:
		return kernelObject
	case f&(kpfCompHead|kpfCompTail) != 0 && f&(kpfLRU|kpfBuddy|kpfHuge|kpfTHP) == 0:
		return packetPath
	}
	return notKernel
}

// span is a range of virtual addresses [lo, hi).
type span struct{ lo, hi uintptr }

// scanner reads the process's pagemap and the kernel's page flags.
type scanner struct {
	pagemap    *os.File
	kpageflags io.ReaderAt // nil: no kernel frames
	entries    []byte
	// zeroPFN is the kernel's shared zero page (0: not known), which
	// every page read but never written maps: not this process's memory,
	// and named once per such page it would fill a report with one frame.
	zeroPFN uint64
}

// zeroSink keeps findZeroPFN's read from being optimised away.
var zeroSink byte

// findZeroPFN sets sc.zeroPFN to the frame an anonymous page read but
// never written maps. It gives up quietly: a report then names the zero
// page wherever the process maps it (a frame named twice, which the
// agent's validation drops).
func (sc *scanner) findZeroPFN() {
	m, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return
	}
	defer unix.Munmap(m)
	zeroSink = m[0] // a read fault maps the zero page
	var e [8]byte
	if _, err := sc.pagemap.ReadAt(e[:], int64(uintptr(unsafe.Pointer(&m[0]))/pageSize*8)); err != nil {
		return
	}
	if v := binary.LittleEndian.Uint64(e[:]); v&pmPresent != 0 {
		sc.zeroPFN = v & pmPFNMask
	}
}

// kernelFrames adds the frames, among the first max, that the guest's
// work keeps writing (kernelKind), in frame order: those on the packet
// path to path, the kernel's objects to objects.
func (sc *scanner) kernelFrames(max uint64, path, objects *ranges) error {
	if sc.entries == nil {
		sc.entries = make([]byte, 8*512)
	}
	for pfn := uint64(0); pfn < max; {
		n := min(uint64(len(sc.entries)/8), max-pfn)
		b := sc.entries[:8*n]
		k, err := sc.kpageflags.ReadAt(b, int64(pfn*8))
		for i := 0; i+8 <= k; i += 8 {
			switch kernelKind(binary.LittleEndian.Uint64(b[i:])) {
			case packetPath:
				path.add(pfn + uint64(i/8))
			case kernelObject:
				objects.add(pfn + uint64(i/8))
			}
		}
		if k < len(b) {
			if err == io.EOF || (err == nil && k == 0) {
				return nil // past the last frame
			}
			if err != nil {
				return err
			}
		}
		pfn += uint64(k / 8)
	}
	return nil
}

// resident adds the frames of the resident pages of s to out, in address
// order, but the zero page and those already named (known, may be nil),
// and returns the number of pages it looked at.
func (sc *scanner) resident(s span, out *ranges, known func(pfn uint64) bool) (int, error) {
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
			if pfn := e & pmPFNMask; e&pmPresent != 0 && pfn != 0 && pfn != sc.zeroPFN && (known == nil || !known(pfn)) {
				out.add(pfn)
			}
		}
		p += uintptr(k / 8)
	}
	return int(hi - lo), nil
}

// mappings lists the readable mappings of /proc/self/maps, executable
// ones and the stack first, without the parts in skip.
func mappings(r io.Reader, skip ...span) ([]span, error) {
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
		parts := []span{{uintptr(a), uintptr(b)}}
		for _, k := range skip {
			var left []span
			for _, p := range parts {
				left = append(left, cut(p, k)...)
			}
			parts = left
		}
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

// inRanges says whether pfn is in rs, which is sorted and disjoint (as
// kernelFrames makes them).
func inRanges(rs []wsreport.Range, pfn uint64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > pfn })
	return i < len(rs) && rs[i].Start <= pfn
}
