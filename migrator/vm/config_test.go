package vm

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		bad  string // substring of the error, "" for valid
	}{
		{"minimal", Config{StateDir: "/s", ImageDir: "/i"}, ""},
		{"no state dir", Config{ImageDir: "/i"}, "state dir"},
		{"no image dir", Config{StateDir: "/s"}, "image dir"},
		{"bad accel", Config{StateDir: "/s", ImageDir: "/i", Accel: "hvf"}, "accel"},
		{"long bridge", Config{StateDir: "/s", ImageDir: "/i", Bridge: "a-very-long-bridge"}, "bridge"},
		{"long state dir", Config{StateDir: "/" + strings.Repeat("x", 80), ImageDir: "/i"}, "too long"},
		{"networks", Config{StateDir: "/s", ImageDir: "/i", Networks: map[string]string{"core": "nfh-core", "dmz": "br-dmz"}}, ""},
		{"long network bridge", Config{StateDir: "/s", ImageDir: "/i", Networks: map[string]string{"core": "a-very-long-bridge"}}, "bridge name"},
		{"no network bridge", Config{StateDir: "/s", ImageDir: "/i", Networks: map[string]string{"core": ""}}, "bridge name"},
		{"bad network name", Config{StateDir: "/s", ImageDir: "/i", Networks: map[string]string{"Core": "nfh-core"}}, `network "Core"`},
		{"default network named", Config{StateDir: "/s", ImageDir: "/i", Networks: map[string]string{"": "nfh-core"}}, `network ""`},
	} {
		l, err := NewLauncher(tc.cfg)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.bad)
		}
		if l != nil {
			l.Close()
		}
	}
	l, err := NewLauncher(Config{StateDir: "/s", ImageDir: "/i"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := l.Config()
	if c.Bridge != "nfh-br" || c.QEMU != "qemu-system-x86_64" || c.Accel != "auto" ||
		c.AccelCache != "/var/cache/nfhandoff/accel.json" || c.Logger == nil {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func TestImageFiles(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, dir, "vnf")
	l, err := NewLauncher(Config{StateDir: t.TempDir(), ImageDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, err := l.imageFiles("vnf"); err != nil {
		t.Fatalf("complete image: %v", err)
	}
	_, _, err = l.imageFiles("missing")
	if !errors.Is(err, api.ErrNoImage) || !strings.Contains(err.Error(), dir+"/missing/vmlinuz") {
		t.Fatalf("missing image: %v, want api.ErrNoImage naming the path", err)
	}
}

// A NIC's network picks its bridge; the host's networks are listed, and
// an unknown one is an invalid spec naming it.
func TestNetworkBridges(t *testing.T) {
	nets := map[string]string{"core": "nfh-core", "dmz": "br-dmz"}
	l, err := NewLauncher(Config{Host: "hostA", StateDir: "/s", ImageDir: "/i", Networks: nets})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nets["core"] = "changed" // the launcher keeps its own copy
	if got := l.Networks(); !slices.Equal(got, []string{"core", "dmz"}) {
		t.Errorf("Networks() = %q", got)
	}
	spec := api.VMSpec{Network: "", NICs: []api.NIC{{Network: "core"}, {Network: "dmz"}, {}}}
	brs, err := l.bridges(spec)
	if err != nil || !slices.Equal(brs, []string{"nfh-br", "nfh-core", "br-dmz", "nfh-br"}) {
		t.Errorf("bridges %q, %v", brs, err)
	}
	spec.NICs[1].Network = "wan"
	_, err = l.bridges(spec)
	if !errors.Is(err, api.ErrInvalidSpec) || !strings.Contains(err.Error(), `invalid vm spec: nic 2: network "wan" is not on host hostA`) ||
		!strings.Contains(err.Error(), "core, dmz") {
		t.Errorf("unknown network: %v", err)
	}
}
