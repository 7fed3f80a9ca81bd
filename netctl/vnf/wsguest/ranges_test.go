package wsguest

import (
	"reflect"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

func TestRangesCoalesce(t *testing.T) {
	var r ranges
	for _, f := range []uint64{5, 6, 7, 9, 10, 3} {
		r.add(f)
	}
	r.seal()
	r.add(4)  // would extend 3+1 but that one is sealed
	r.add(11) // likewise
	rg := func(start uint64, n uint32) wsreport.Range { return wsreport.Range{Start: start, Count: n} }
	want := []wsreport.Range{rg(5, 3), rg(9, 2), rg(3, 1), rg(4, 1), rg(11, 1)}
	if !reflect.DeepEqual(r.rs, want) {
		t.Errorf("ranges %v, want %v", r.rs, want)
	}
	r.reset()
	for i := range wsreport.MaxRanges + 10 {
		r.add(uint64(2 * i))
	}
	r.add(wsreport.MaxFrame)
	if len(r.rs) != wsreport.MaxRanges || r.dropped != 11 {
		t.Errorf("%d ranges, %d dropped; want %d and 11", len(r.rs), r.dropped, wsreport.MaxRanges)
	}
}
