package agent

import (
	"slices"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/prefetch"
	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// Frames map to pc.ram offsets one to one below the PCI hole, in the
// report's order; what lies above its lowest start is left out.
func TestWorkingSetRanges(t *testing.T) {
	const hole = lowIdentity / 4096 // the first frame left out
	c := wsreport.Checked{Ranges: []wsreport.Range{
		{Start: 300, Count: 16}, {Start: 0, Count: 1}, {Start: hole - 2, Count: 4}, {Start: hole + 10, Count: 1},
	}}
	want := []prefetch.Range{
		{Block: "pc.ram", Start: 300 * 4096, Len: 16 * 4096},
		{Block: "pc.ram", Start: 0, Len: 4096},
		{Block: "pc.ram", Start: (hole - 2) * 4096, Len: 2 * 4096},
	}
	if got := workingSetRanges(c); !slices.Equal(got, want) {
		t.Errorf("ranges %+v, want %+v", got, want)
	}
}
