package wsreport

import (
	"reflect"
	"testing"
)

func TestValidate(t *testing.T) {
	const ram = 1000 * FrameSize
	for _, tc := range []struct {
		name             string
		in               []Range
		hot              int
		want             []Range
		wantHot          int
		dropped, clipped int
	}{
		{"clean", []Range{{10, 5}, {0, 2}}, 1, []Range{{10, 5}, {0, 2}}, 1, 0, 0},
		{"beyond ram", []Range{{1000, 1}, {5, 1}}, 1, []Range{{5, 1}}, 0, 1, 0},
		{"past the end", []Range{{990, 100}}, 1, []Range{{990, 10}}, 1, 0, 1},
		{"duplicate", []Range{{10, 5}, {10, 5}}, 2, []Range{{10, 5}}, 1, 1, 0},
		{"overlap keeps the first", []Range{{10, 10}, {5, 10}}, 0, []Range{{10, 10}, {5, 5}}, 0, 0, 1},
		{"hole splits a later range", []Range{{10, 5}, {0, 30}}, 1, []Range{{10, 5}, {0, 10}, {15, 15}}, 1, 0, 1},
		{"covered by two", []Range{{0, 5}, {5, 5}, {0, 10}}, 3, []Range{{0, 5}, {5, 5}}, 2, 1, 0},
		{"contained", []Range{{0, 100}, {40, 2}}, 1, []Range{{0, 100}}, 1, 1, 0},
	} {
		c := Validate(Report{Ranges: tc.in, Hot: tc.hot}, ram)
		if !reflect.DeepEqual(c.Ranges, tc.want) && len(c.Ranges)+len(tc.want) > 0 {
			t.Errorf("%s: ranges %v, want %v", tc.name, c.Ranges, tc.want)
		}
		if c.Hot != tc.wantHot || c.Dropped != tc.dropped || c.Clipped != tc.clipped {
			t.Errorf("%s: hot %d dropped %d clipped %d, want %d %d %d", tc.name, c.Hot, c.Dropped, c.Clipped, tc.wantHot, tc.dropped, tc.clipped)
		}
		checkDisjoint(t, c, ram)
	}
}

// A guest naming all of RAM in every range costs one pass, and its pages
// stop at the RAM.
func TestValidateLyingGuest(t *testing.T) {
	const ram = 16 << 30
	r := Report{Ranges: make([]Range, MaxRanges)}
	for i := range r.Ranges {
		r.Ranges[i] = Range{uint64(i % 7), 1<<32 - 1}
	}
	c := Validate(r, ram)
	if c.Pages != ram/FrameSize || len(c.Ranges) != 1 {
		t.Errorf("pages %d in %d ranges, want the RAM's %d in one", c.Pages, len(c.Ranges), ram/FrameSize)
	}
	checkDisjoint(t, c, ram)
}

// checkDisjoint asserts Validate's promise.
func checkDisjoint(t testing.TB, c Checked, ram uint64) {
	t.Helper()
	seen := map[uint64]bool{}
	var pages uint64
	for _, x := range c.Ranges {
		if x.Count == 0 || x.End() > ram/FrameSize {
			t.Fatalf("range %v empty or beyond RAM", x)
		}
		pages += uint64(x.Count)
		if x.Count > 1<<16 {
			continue // too big to check frame by frame
		}
		for f := x.Start; f < x.End(); f++ {
			if seen[f] {
				t.Fatalf("frame %#x twice in %v", f, c.Ranges)
			}
			seen[f] = true
		}
	}
	if pages != c.Pages || c.Hot > len(c.Ranges) {
		t.Fatalf("pages %d, Pages %d, hot %d of %d", pages, c.Pages, c.Hot, len(c.Ranges))
	}
}
