package wsguest

import (
	"os"
	"reflect"
	"strings"
	"testing"

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
	got, err := mappings(strings.NewReader(maps), span{0xc001000000, 0xc002000000})
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x600000}, {0x7ffc00000000, 0x7ffc00021000},
		{0x600000, 0x700000}, {0xc000000000, 0xc001000000}, {0xc002000000, 0xc004000000}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans %x, want %x", got, want)
	}
	if _, err := mappings(strings.NewReader("zz-yy r--p\n"), span{}); err == nil {
		t.Error("a bad maps line parsed")
	}
}

// As root, the touched pages of the working set come first and are all
// there; other memory (code, stack) follows.
func TestScanReport(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("frames read as zero without CAP_SYS_ADMIN")
	}
	hot := make([]byte, 64*pageSize)
	for i := 0; i < len(hot); i += pageSize {
		hot[i] = 1
	}
	s, err := NewScan()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Report(hot)
	if err != nil {
		t.Fatal(err)
	}
	var hotPages uint64
	for _, x := range r.Ranges[:r.Hot] {
		hotPages += uint64(x.Count)
	}
	if hotPages != 64 || r.Hot == len(r.Ranges) || r.Seq != 0 || r.Uptime <= 0 {
		t.Errorf("hot %d pages in %d of %d ranges, seq %d, uptime %v; want 64 and more ranges after", hotPages, r.Hot, len(r.Ranges), r.Seq, r.Uptime)
	}
	if c := wsreport.Validate(r, 1<<50); c.Pages != r.Pages() {
		t.Errorf("a frame named twice: %d pages, %d distinct", r.Pages(), c.Pages)
	}
	if _, err := wsreport.Encode(nil, r); err != nil {
		t.Error(err)
	}
}
