package prefetch

import (
	"reflect"
	"testing"
)

func TestParseRanges(t *testing.T) {
	got, err := ParseRanges("pc.ram:0:0x1000000,/rom@etc/acpi/tables:4096:8192")
	want := []Range{{"pc.ram", 0, 16 << 20}, {"/rom@etc/acpi/tables", 4096, 8192}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"pc.ram", "pc.ram:1", ":1:2", "pc.ram:x:1", "pc.ram:0:-1"} {
		if r, err := ParseRanges(bad); err == nil {
			t.Errorf("%q: parsed %+v", bad, r)
		}
	}
}

// Skip says why nothing was injected.
func TestSkip(t *testing.T) {
	in, _ := New(Config{}, nil)
	in.Skip("no working set")
	if st := in.Stats(); st.Stopped != "no working set" || st.Requests != 0 {
		t.Fatalf("stats %+v", st)
	}
}
