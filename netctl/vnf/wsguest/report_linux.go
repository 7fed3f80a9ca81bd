package wsguest

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Scan makes the reports of this process. It is not safe for concurrent use.
type Scan struct {
	sc  scanner
	out ranges
	// The kernel's frames on the packet path and its objects, named
	// before the working set, each in at most a quarter of a report's
	// ranges (the working set must have room).
	path, objects ranges
	kflags        *os.File // nil: not readable
}

// NewScan opens /proc/self/pagemap, and /proc/kpageflags if it can. Frames
// read as zero without CAP_SYS_ADMIN: such a process reports no ranges.
func NewScan() (*Scan, error) {
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil, fmt.Errorf("opening pagemap: %w", err)
	}
	s := &Scan{sc: scanner{pagemap: f}, path: ranges{limit: wsreport.MaxRanges / 4},
		objects: ranges{limit: wsreport.MaxRanges / 4}}
	s.sc.findZeroPFN()
	if k, err := os.Open("/proc/kpageflags"); err == nil {
		s.sc.kpageflags, s.kflags = k, k // else no kernel frames in the reports
	}
	return s, nil
}

// Close closes the pagemap and kpageflags.
func (s *Scan) Close() error {
	if s.kflags != nil {
		s.kflags.Close()
	}
	return s.sc.pagemap.Close()
}

// Report (its Seq zero: the caller's) names, hottest first: the kernel's
// frames on the packet path (page tables, the kernel's own multi-page
// buffers such as the network's receive buffers; see kernelKind), its
// objects (slab) and reserved frames (its image and data, the page
// structures, per-CPU data), and the resident frames of hot (the working
// set), together its Hot ranges; then the frames of the process's other
// readable mappings; last those of bulk (memory it touches in part, or in order,
// such as the working set beyond its hot part: the small mappings before
// it, the runtime's metadata, stacks and heap, are touched on every step).
// The ranges stay valid until the next call.
func (s *Scan) Report(hot, bulk []byte) (wsreport.Report, error) {
	s.out.reset()
	s.path.reset()
	s.objects.reset()
	if s.sc.kpageflags != nil {
		if err := s.sc.kernelFrames(maxKernelFrames, &s.path, &s.objects); err != nil {
			return wsreport.Report{}, fmt.Errorf("reading kpageflags: %w", err)
		}
		s.out.addRanges(s.path)
		s.out.seal()
		s.out.addRanges(s.objects)
		s.out.seal()
	}
	// A process maps some of the kernel's frames too (the vDSO and the
	// zero page are reserved): each frame is named once, as the kernel's.
	known := func(pfn uint64) bool { return inRanges(s.path.rs, pfn) || inRanges(s.objects.rs, pfn) }
	h, b := spanOf(hot), spanOf(bulk)
	if h.hi > h.lo {
		if _, err := s.sc.resident(h, &s.out, known); err != nil {
			return wsreport.Report{}, fmt.Errorf("reading pagemap: %w", err)
		}
	}
	s.out.seal()
	nHot := len(s.out.rs)
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return wsreport.Report{}, fmt.Errorf("opening maps: %w", err)
	}
	spans, err := mappings(maps, h, b)
	maps.Close()
	if err != nil {
		return wsreport.Report{}, fmt.Errorf("reading maps: %w", err)
	}
	own := len(spans)
	if b.hi > b.lo {
		spans = append(spans, cut(b, h)...)
	}
	var flags uint16
	budget := maxScanPages
	for i, sp := range spans {
		if i == own {
			s.out.seal() // bulk's ranges apart, at the end
		}
		if budget <= 0 {
			flags |= wsreport.Truncated
			break
		}
		if sp.hi-sp.lo > uintptr(budget)*pageSize {
			sp.hi = sp.lo + uintptr(budget)*pageSize
		}
		n, err := s.sc.resident(sp, &s.out, known)
		if err != nil {
			return wsreport.Report{}, fmt.Errorf("reading pagemap: %w", err)
		}
		budget -= n
	}
	if s.out.dropped > 0 {
		flags |= wsreport.Truncated
	}
	return wsreport.Report{Uptime: monotonic(), Flags: flags, Ranges: s.out.rs, Hot: nHot}, nil
}

// spanOf is the pages of b: whole pages, so that the mappings cut
// around it name none of them again.
func spanOf(b []byte) span {
	if len(b) == 0 {
		return span{}
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return span{lo &^ (pageSize - 1), (lo + uintptr(len(b)) + pageSize - 1) &^ (pageSize - 1)}
}

func monotonic() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
