package wsguest

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

func TestMappings(t *testing.T) {
	maps := `00400000-00600000 r-xp 00000000 00:05 5 /bin/vnf
00600000-00700000 r--p 00200000 00:05 5 /bin/vnf
c000000000-c004000000 rw-p 00000000 00:00 0
c004000000-c008000000 ---p 00000000 00:00 0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
`
	got, err := mappings(strings.NewReader(maps), span{0xc001000000, 0xc002000000}, span{0xc003000000, 0xc003800000})
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x600000}, {0x7ffc00000000, 0x7ffc00021000},
		{0x600000, 0x700000}, {0xc000000000, 0xc001000000}, {0xc002000000, 0xc003000000}, {0xc003800000, 0xc004000000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans %x, want %x", got, want)
	}
	if _, err := mappings(strings.NewReader("zz-yy r--p\n"), span{}); err == nil {
		t.Error("a bad maps line parsed")
	}
}

// As root, the touched pages of the working set come first and are all
// there; other memory (code, stack) follows, and the bulk comes last.
func TestScanReport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("frames read as zero without CAP_SYS_ADMIN")
	}
	hot, bulk := make([]byte, 64*pageSize), make([]byte, 16*pageSize)
	for i := 0; i < len(hot); i += pageSize {
		hot[i] = 1
	}
	for i := 0; i < len(bulk); i += pageSize {
		bulk[i] = 1
	}
	s, err := NewScan()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kflags := s.sc.kpageflags
	s.sc.kpageflags = nil // the process's own frames alone first
	b, err := s.Report(bulk, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := append([]wsreport.Range(nil), b.Ranges[:b.Hot]...)
	r, err := s.Report(hot, bulk)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(last); len(r.Ranges) < n || !reflect.DeepEqual(r.Ranges[len(r.Ranges)-n:], last) {
		t.Errorf("the report's last ranges %v, want the bulk's %v", r.Ranges[max(0, len(r.Ranges)-n):], last)
	}
	if p := pages(r.Ranges[:r.Hot]); p != 64 || r.Hot == len(r.Ranges) || r.Seq != 0 || r.Uptime <= 0 {
		t.Errorf("hot %d pages in %d of %d ranges, seq %d, uptime %v; want 64 and more ranges after", p, r.Hot, len(r.Ranges), r.Seq, r.Uptime)
	}
	own := append([]wsreport.Range(nil), r.Ranges[:r.Hot]...)
	if _, err := wsreport.Encode(nil, r); err != nil {
		t.Error(err)
	}
	namedOnce(t, s, hot, bulk)
	if kflags == nil {
		return
	}
	// With the kernel's frames: those on the packet path (if any among
	// the first maxKernelFrames: a large host allocates above them first)
	// lead, and the working set is still among the Hot ranges, after them.
	s.sc.kpageflags = kflags
	if r, err = s.Report(hot, nil); err != nil {
		t.Fatal(err)
	}
	n := len(own)
	if r.Hot < n || !reflect.DeepEqual(r.Ranges[r.Hot-n:r.Hot], own) {
		t.Errorf("hot ranges %d, the last %d of them %v; want the working set's %v after the kernel's", r.Hot, n, r.Ranges[max(0, r.Hot-n):r.Hot], own)
	}
	if _, err := wsreport.Encode(nil, r); err != nil {
		t.Error(err)
	}
	namedOnce(t, s, hot, nil)
}

// namedOnce checks that s's reports name each frame once. A live process's
// frames move while it is scanned (a page freed after its mapping was read
// may come back in one read later), so a frame named twice fails the test
// only if it is so in three reports in a row: a frame the scan names twice
// by design (the kernel's frames a process maps) is in every one.
func namedOnce(t *testing.T, s *Scan, hot, bulk []byte) {
	t.Helper()
	var r wsreport.Report
	var c wsreport.Checked
	for range 3 {
		var err error
		if r, err = s.Report(hot, bulk); err != nil {
			t.Fatal(err)
		}
		if c = wsreport.Validate(r, 1<<50); c.Pages == r.Pages() {
			return
		}
	}
	t.Errorf("a frame named twice in three reports in a row: %d pages, %d distinct", r.Pages(), c.Pages)
}

func pages(rs []wsreport.Range) (n uint64) {
	for _, x := range rs {
		n += uint64(x.Count)
	}
	return n
}

// TestKernelFrames: the frames whose flags say page table or a kernel
// multi-page buffer are on the packet path, slab and reserved frames are
// the kernel's objects, each in order; pages of processes, free pages, huge pages and
// the rest are neither; a short kpageflags ends the scan, and so does the
// bound.
func TestKernelFrames(t *testing.T) {
	flags := []uint64{
		0,                      // 0: nothing known (a free block's tail, kernel code)
		kpfPgtable,             // 1
		kpfSlab,                // 2
		kpfSlab | kpfCompHead,  // 3
		kpfCompHead,            // 4: a kernel buffer
		kpfCompTail,            // 5
		kpfCompHead | kpfLRU,   // 6: a process's large folio
		kpfCompHead | kpfBuddy, // 7: free
		kpfCompTail | kpfTHP,   // 8
		kpfCompTail | kpfHuge,  // 9
		kpfLRU | 1<<12,         // 10: anonymous
		kpfPgtable,             // 11
		kpfReserved,            // 12: the kernel's image, page structures
	}
	b := make([]byte, 8*len(flags))
	for i, f := range flags {
		binary.LittleEndian.PutUint64(b[8*i:], f)
	}
	var path, objects ranges
	sc := scanner{kpageflags: bytes.NewReader(b), entries: make([]byte, 8*4)} // several reads
	if err := sc.kernelFrames(1<<20, &path, &objects); err != nil {
		t.Fatal(err)
	}
	want := []wsreport.Range{{Start: 1, Count: 1}, {Start: 4, Count: 2}, {Start: 11, Count: 1}}
	if !reflect.DeepEqual(path.rs, want) {
		t.Errorf("packet path %+v, want %+v", path.rs, want)
	}
	if want := []wsreport.Range{{Start: 2, Count: 2}, {Start: 12, Count: 1}}; !reflect.DeepEqual(objects.rs, want) {
		t.Errorf("objects %+v, want %+v", objects.rs, want)
	}
	path.reset()
	objects.reset()
	if err := sc.kernelFrames(3, &path, &objects); err != nil || len(path.rs) != 1 || len(objects.rs) != 1 || objects.rs[0].Count != 1 {
		t.Errorf("the first 3 frames: %+v %+v, %v; want frames 1 and 2", path.rs, objects.rs, err)
	}
}

func TestInRanges(t *testing.T) {
	rs := []wsreport.Range{{Start: 2, Count: 2}, {Start: 10, Count: 1}}
	for pfn, want := range map[uint64]bool{0: false, 1: false, 2: true, 3: true, 4: false, 9: false, 10: true, 11: false} {
		if got := inRanges(rs, pfn); got != want {
			t.Errorf("inRanges(%v, %d) = %v, want %v", rs, pfn, got, want)
		}
	}
	if inRanges(nil, 0) {
		t.Error("inRanges(nil, 0) = true")
	}
}

// As root, the zero page is found, and a buffer read but never written
// (every page of it the zero page) is named nowhere in a report.
func TestZeroPageNotNamed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("frames read as zero without CAP_SYS_ADMIN")
	}
	s, err := NewScan()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.sc.zeroPFN == 0 {
		t.Fatal("the zero page's frame not found")
	}
	s.sc.kpageflags = nil // the process's own frames alone
	read, err := unix.Mmap(-1, 0, 8*pageSize, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(read)
	var sum byte
	for i := 0; i < len(read); i += pageSize {
		sum += read[i]
	}
	r, err := s.Report(read, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range r.Ranges {
		if x.Start <= s.sc.zeroPFN && s.sc.zeroPFN < x.End() {
			t.Fatalf("the zero page %#x named in %+v (sum %d)", s.sc.zeroPFN, x, sum)
		}
	}
}
