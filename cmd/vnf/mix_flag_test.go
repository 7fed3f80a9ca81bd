package main

import (
	"io"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/vnf"
)

// --mix takes KIND=MiB items joined by ':', which pass the kernel command
// line (nfh.vnf= splits at commas), and sets the working set.
func TestParseFlagsMix(t *testing.T) {
	want := vnf.Mix{Shared: 200, Unique: 50, Text: 40, Zero: 10}
	for _, args := range [][]string{
		strings.Split("--mix,shared=200:unique=50:text=40:zero=10,--dirty-rate,2", ","),
		strings.Split("--wss,300,--mix=shared=200:unique=50:text=40:zero=10,--shared-seed,0x2a,--unique-seed,7", ","),
		{"--mix", "shared=200,unique=50,text=40,zero=10"},
	} {
		cfg, _, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if cfg.Mix != want || cfg.WSSMB != 300 || cfg.Fill != vnf.FillRandom {
			t.Errorf("%q: mix %+v wss %d fill %v", args, cfg.Mix, cfg.WSSMB, cfg.Fill)
		}
	}
	cfg, _, err := parseFlags(strings.Split("--mix,unique=1,--shared-seed,0x2a,--unique-seed,7", ","), io.Discard)
	if err != nil || cfg.SharedSeed != 42 || cfg.UniqueSeed != 7 {
		t.Errorf("seeds %d %d, %v", cfg.SharedSeed, cfg.UniqueSeed, err)
	}
	// Without --mix, --fill as before.
	cfg, _, err = parseFlags([]string{"--wss", "16", "--fill", "zero"}, io.Discard)
	if err != nil || !cfg.Mix.IsZero() || cfg.WSSMB != 16 || cfg.Fill != vnf.FillZero {
		t.Errorf("--fill zero: %+v, %v", cfg, err)
	}
}

func TestParseFlagsMixErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--mix shared=200:unique=50 --fill random": "--mix and --fill exclude each other",
		"--fill pattern --mix unique=1":            "--mix and --fill exclude each other",
		"--wss 64 --mix shared=200:unique=50":      "--wss 64 but --mix shared=200:unique=50 adds up to 250 MiB",
		"--mix shared=200:heap=50":                 `unknown kind "heap"`,
		"--mix zero=0":                             "no pages",
		"--mix unique=1 --shared-seed -1":          "shared-seed",
	} {
		_, _, err := parseFlags(strings.Fields(args), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", args, err, want)
		}
	}
}
