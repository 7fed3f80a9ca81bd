package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/vm"
)

// networksValue is the repeatable --network NAME=BRIDGE[,UPLINK]: the host
// networks besides the default one, each with the bridge its NICs' taps
// join (m) and, if given, the uplink where the dataplane announces a NIC
// that arrives on it (uplinks).
type networksValue struct{ m, uplinks *map[string]string }

func (v networksValue) String() string {
	if v.m == nil {
		return ""
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(*v.m)) {
		n := name + "=" + (*v.m)[name]
		if v.uplinks != nil && (*v.uplinks)[name] != "" {
			n += "," + (*v.uplinks)[name]
		}
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

func (v networksValue) Set(s string) error {
	name, rest, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want NAME=BRIDGE[,UPLINK], e.g. core=nfh-cbr,nfh-cup", s)
	}
	bridge, uplink, withUplink := strings.Cut(rest, ",")
	if err := vm.CheckNetwork(name, bridge); err != nil {
		return err
	}
	if withUplink && (uplink == "" || len(uplink) > 15 || strings.ContainsAny(uplink, "/, ")) {
		return fmt.Errorf("network %s: uplink %q: want an interface name of 1-15 characters", name, uplink)
	}
	if _, dup := (*v.m)[name]; dup {
		return fmt.Errorf("network %s given twice", name)
	}
	if *v.m == nil {
		*v.m = make(map[string]string)
	}
	(*v.m)[name] = bridge
	if withUplink {
		if *v.uplinks == nil {
			*v.uplinks = make(map[string]string)
		}
		(*v.uplinks)[name] = uplink
	}
	return nil
}

// sizeValue is a byte count flag: 4096, 64K, 64KiB, 8M, 8MiB, 1G, 1GiB
// (K, M, G are binary, like the KiB forms).
type sizeValue struct{ n *int64 }

func (v sizeValue) String() string {
	if v.n == nil {
		return "0"
	}
	return formatSize(*v.n)
}

func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.n = n
	return nil
}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes, e.g. 4096, 64KiB, 8MiB or 1GiB", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// hiddenPrefix marks the flags accepted but left out of --help: the test
// knobs (session.Debug and the like), all named debug-*.
const hiddenPrefix = "debug-"

// setUsage makes fs's usage list every flag but the hidden ones. Call it
// after defining the flags and before parsing (defaults are taken then).
func setUsage(fs *flag.FlagSet, w io.Writer) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, hiddenPrefix) {
			shown.Var(f.Value, f.Name, f.Usage)
		}
	})
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		shown.PrintDefaults()
	}
}
