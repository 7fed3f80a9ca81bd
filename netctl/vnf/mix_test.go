package vnf

import (
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Mix
	}{
		{"shared=200:unique=50:text=50:zero=0", Mix{200, 50, 50, 0}},
		{"shared=200,unique=50,text=50,zero=10", Mix{200, 50, 50, 10}}, // given directly, not through the kernel command line
		{"zero=4:text=3", Mix{Text: 3, Zero: 4}},
		{"unique=1", Mix{Unique: 1}},
		{"shared=0:unique=1", Mix{Unique: 1}},
	} {
		got, err := ParseMix(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMixErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "empty",
		"shared":                "want KIND=MiB",
		"stack=4":               "unknown kind",
		"shared=1:shared=2":     "given twice",
		"text=-1":               "want MiB",
		"text=1.5":              "want MiB",
		"text=":                 "want MiB",
		"unique=1048577":        "want MiB",
		"shared=0:zero=0":       "no pages",
		"shared=200;unique=50":  "want MiB",
		"shared=200 unique=50":  "want MiB",
		"Shared=1":              "unknown kind",
		"shared=0x10:unique=50": "want MiB",
	} {
		_, err := ParseMix(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", in, err, want)
		}
	}
}

func TestMixString(t *testing.T) {
	m := Mix{Shared: 200, Unique: 50, Text: 50}
	if got, want := m.String(), "shared=200:unique=50:text=50:zero=0"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if m.Total() != 300 || m.IsZero() || !(Mix{}).IsZero() {
		t.Fatalf("total %d", m.Total())
	}
}

func FuzzParseMix(f *testing.F) {
	f.Add("shared=200:unique=50:text=50:zero=0")
	f.Add("zero=4,text=3")
	f.Add("shared=1:shared=2")
	f.Add("unique=1048576")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			return
		}
		if m.validate() != nil || m.Total() <= 0 {
			t.Fatalf("%q: parsed to an invalid mix %+v", s, m)
		}
		again, err := ParseMix(m.String())
		if err != nil || again != m {
			t.Fatalf("%q: %+v prints as %q, which parses to %+v, %v", s, m, m.String(), again, err)
		}
	})
}
