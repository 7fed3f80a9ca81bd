package dataplane

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// loadBTF returns the types of the compiled programs (handoff_bpfel.o).
func loadBTF(t *testing.T) *btf.Spec {
	t.Helper()
	spec, err := loadHandoff()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Types == nil {
		t.Fatal("handoff_bpfel.o carries no BTF")
	}
	return spec.Types
}

// The Go twins of the C structs have the size and the field offsets of
// their BTF: a stale handoff_bpfel.go (C changed, not regenerated) fails.
func TestABIStructsMatchBTF(t *testing.T) {
	types := loadBTF(t)
	for cName, goType := range map[string]reflect.Type{
		"vm_key":          reflect.TypeFor[vmKey](),
		"vm_state":        reflect.TypeFor[vmState](),
		"vm_counters":     reflect.TypeFor[vmCounters](),
		"rec_hdr":         reflect.TypeFor[recHdr](),
		"tunnel_counters": reflect.TypeFor[tunnelCounters](),
	} {
		var s *btf.Struct
		if err := types.TypeByName(cName, &s); err != nil {
			t.Errorf("struct %s: %v", cName, err)
			continue
		}
		if uintptr(s.Size) != goType.Size() {
			t.Errorf("struct %s is %d bytes, %s %d", cName, s.Size, goType, goType.Size())
		}
		var fields []reflect.StructField
		for i := range goType.NumField() {
			if f := goType.Field(i); f.Name != "_" {
				fields = append(fields, f)
			}
		}
		if len(fields) != len(s.Members) {
			t.Errorf("struct %s has %d members, %s %d fields", cName, len(s.Members), goType, len(fields))
			continue
		}
		for i, m := range s.Members {
			if off := m.Offset.Bytes(); uintptr(off) != fields[i].Offset {
				t.Errorf("%s.%s at %d, %s.%s at %d", cName, m.Name, off, goType, fields[i].Name, fields[i].Offset)
			}
		}
	}
	var rec *btf.Struct
	if err := types.TypeByName("rec_hdr", &rec); err == nil && int(rec.Size) != recHdrLen {
		t.Errorf("the ring reader parses %d-byte headers, struct rec_hdr is %d", recHdrLen, rec.Size)
	}
}

// Every value of enum vm_mode has its name in modeNames (MODE_HOLD: "hold"),
// and modeNames names nothing else.
func TestModesMatchEnum(t *testing.T) {
	var e *btf.Enum
	if err := loadBTF(t).TypeByName("vm_mode", &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Values) != len(modeNames) {
		t.Errorf("enum vm_mode has %d values, modeNames %d", len(e.Values), len(modeNames))
	}
	for _, v := range e.Values {
		want := strings.ToLower(strings.TrimPrefix(v.Name, "MODE_"))
		if got := mode(v.Value).String(); got != want {
			t.Errorf("%s = %d: named %q, want %q", v.Name, v.Value, got, want)
		}
	}
	if !capturing(modeBuffer) || !capturing(modeHold) || !capturing(modeRelease) ||
		capturing(modePass) || capturing(modeMirror) || capturing(modeForward) {
		t.Error("capturing: BUFFER, HOLD and RELEASE capture, the others do not")
	}
}

// add and sub cover every counter of struct vm_counters (a counter added
// in C and regenerated must be added to fields too).
func TestCountersFieldsCoverStruct(t *testing.T) {
	var c vmCounters
	rv := reflect.ValueOf(&c).Elem()
	n := 0
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Uint64 {
			n++
			f.SetUint(uint64(n))
		}
	}
	if got := len(c.fields()); got != n {
		t.Fatalf("fields lists %d counters, struct vm_counters has %d", got, n)
	}
	sum := c
	sum.add(c)
	if diff := sum.sub(c); diff != c {
		t.Errorf("(c + c) - c = %+v, want %+v", diff, c)
	}
	for i, p := range sum.fields() {
		if *p != 2**c.fields()[i] {
			t.Errorf("counter %d: c + c = %d, want %d", i, *p, 2**c.fields()[i])
		}
	}
}
