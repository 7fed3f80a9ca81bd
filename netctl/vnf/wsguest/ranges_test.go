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

// A limited ranges leaves out what is beyond its limit; addRanges carries
// the frames and the count of those left out.
func TestRangesLimitAndAdd(t *testing.T) {
	small := ranges{limit: 2}
	for _, f := range []uint64{1, 2, 4, 6, 7} {
		small.add(f)
	}
	rg := func(start uint64, n uint32) wsreport.Range { return wsreport.Range{Start: start, Count: n} }
	if want := []wsreport.Range{rg(1, 2), rg(4, 1)}; !reflect.DeepEqual(small.rs, want) || small.dropped != 2 {
		t.Errorf("limited: %v, %d dropped; want %v, 2", small.rs, small.dropped, want)
	}
	var r ranges
	r.add(0)
	r.seal()
	r.addRanges(small)
	if want := []wsreport.Range{rg(0, 1), rg(1, 2), rg(4, 1)}; !reflect.DeepEqual(r.rs, want) || r.dropped != 2 {
		t.Errorf("added: %v, %d dropped; want %v, 2", r.rs, r.dropped, want)
	}
	// Unsealed, an adjacent range extends the last one, as add would.
	var u ranges
	u.add(0)
	u.addRanges(small)
	if want := []wsreport.Range{rg(0, 3), rg(4, 1)}; !reflect.DeepEqual(u.rs, want) {
		t.Errorf("added unsealed: %v; want %v", u.rs, want)
	}
}
