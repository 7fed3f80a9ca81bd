package wsguest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Every lie is what it says: garbage is all rejected, the others decode
// and are what the host's check must clip, drop or take as harmless.
func TestLies(t *testing.T) {
	honest := wsreport.Report{Ranges: []wsreport.Range{{Start: 100, Count: 10}}, Hot: 1}
	const ram = 256 << 20
	for _, kind := range allLies {
		b, err := lie(nil, kind, 7, honest)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		sc := wsreport.NewScanner(bytes.NewReader(b))
		var got []wsreport.Report
		rejected := 0
		for {
			r, err := sc.Next()
			if errors.Is(err, wsreport.ErrMalformed) {
				rejected++
				continue
			}
			if err != nil {
				break
			}
			got = append(got, r)
		}
		switch kind {
		case LieGarbage:
			if len(got) != 0 || rejected < 3 {
				t.Errorf("%s: %d reports, %d rejected", kind, len(got), rejected)
			}
			continue
		case LieWrongID:
			if len(got) != 1 || got[0].Seq == 7 {
				t.Errorf("%s: %+v", kind, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Seq != 7 || rejected != 0 {
			t.Fatalf("%s: %d reports, %d rejected", kind, len(got), rejected)
		}
		c := wsreport.Validate(got[0], ram)
		switch kind {
		case LieOutOfRange:
			if c.Pages != ram/4096 || c.Dropped == 0 {
				t.Errorf("%s: %+v", kind, c)
			}
		case LieHuge:
			if len(got[0].Ranges) != wsreport.MaxRanges || c.Pages != ram/4096/2 {
				t.Errorf("%s: %d ranges, %d pages valid", kind, len(got[0].Ranges), c.Pages)
			}
		case LieStale:
			if c.Ranges[0].Start != 100+staleShift {
				t.Errorf("%s: %+v", kind, c.Ranges)
			}
		}
	}
	if l, err := ParseLies("all"); err != nil || len(l) != len(allLies) {
		t.Errorf("all: %v %v", l, err)
	}
	if l, err := ParseLies("garbage:huge,stale"); err != nil || len(l) != 3 {
		t.Errorf("garbage:huge,stale: %v %v", l, err)
	}
	if _, err := ParseLies("garbage,nope"); err == nil {
		t.Error("an unknown lie parsed")
	}
}
