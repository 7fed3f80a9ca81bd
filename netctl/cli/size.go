package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the multipliers parseRate accepts. As in QEMU, K, M, G and T
// are powers of 1024 with or without "i" and "B": 1G = 1Gi = 1GiB = 2^30.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "ki": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mi": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gi": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "ti": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// parseRate reads a rate in bytes per second such as "512MiB/s", "1G",
// "100M", "1.5GiB/s" or "65536". The "/s" is optional; units are
// case-insensitive powers of 1024 (see sizeUnits).
func parseRate(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "/S")
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok || num == "" {
		return 0, fmt.Errorf("%q: want a rate such as 512MiB/s, 1G or 100M (bytes/s)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q: want a rate such as 512MiB/s, 1G or 100M (bytes/s)", s)
	}
	b := v * mult
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return int64(math.Round(b)), nil
}

// rateValue is a pflag.Value holding a rate in bytes/s.
type rateValue struct{ v *int64 }

func (r rateValue) String() string {
	if r.v == nil || *r.v == 0 {
		return ""
	}
	return fmtRate(uint64(*r.v))
}

func (r rateValue) Set(s string) error {
	n, err := parseRate(s)
	if err != nil {
		return err
	}
	*r.v = n
	return nil
}

func (rateValue) Type() string { return "rate" }

// fmtBytes prints n bytes with a binary unit: 812 B, 64.0 KiB, 1.5 GiB.
func fmtBytes(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// fmtRate prints a rate in bytes/s: 64.0 MiB/s.
func fmtRate(n uint64) string { return fmtBytes(n) + "/s" }
