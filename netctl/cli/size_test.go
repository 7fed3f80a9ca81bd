package cli

import "testing"

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB/s": 512 << 20,
		"1G":       1 << 30,
		"1GiB/s":   1 << 30,
		"1gb":      1 << 30,
		"100M":     100 << 20,
		"100 MiB":  100 << 20,
		"1.5G":     3 << 29,
		"64k":      64 << 10,
		"65536":    65536,
		"65536/s":  65536,
		"2TiB/s":   2 << 40,
		"0":        0,
	} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "M", "1X", "1.2.3M", "-1M", "1Mbit/s", "1e3", "9999999999T"} {
		if got, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) = %d, want an error", in, got)
		}
	}
}

func TestRateValue(t *testing.T) {
	var n int64
	v := rateValue{&n}
	if v.String() != "" || v.Type() != "rate" {
		t.Errorf("zero rate prints %q type %q", v.String(), v.Type())
	}
	if err := v.Set("1G"); err != nil || n != 1<<30 || v.String() != "1.0 GiB/s" {
		t.Errorf("Set(1G): n=%d err=%v string %q", n, err, v.String())
	}
	if err := v.Set("x"); err == nil || n != 1<<30 {
		t.Errorf("Set(x): err=%v, n changed to %d", err, n)
	}
}

func TestFmtBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB", 256 << 20: "256.0 MiB",
	} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := fmtRate(64 << 20); got != "64.0 MiB/s" {
		t.Errorf("fmtRate = %q", got)
	}
}
