package main

import (
	"io"
	"strings"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
)

// --router takes IN:OUT, which passes the kernel command line (nfh.vnf=
// splits at commas), and IN,OUT given directly; without it there is no
// router.
func TestParseFlagsRouter(t *testing.T) {
	for _, args := range [][]string{
		strings.Split("--router,eth0:eth1", ","),
		strings.Split("--router=eth0:eth1,--wss,8", ","),
		{"--router", "eth0,eth1"},
	} {
		cfg, _, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if want := (router.Config{In: "eth0", Out: "eth1"}); cfg.Router != want {
			t.Errorf("%q: router %+v, want %+v", args, cfg.Router, want)
		}
	}
	cfg, _, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.Router.Enabled() {
		t.Errorf("no --router: %+v, %v", cfg.Router, err)
	}
	for _, bad := range []string{"eth0", "eth0:eth0", ":eth1", "eth0:eth1:eth2"} {
		if _, _, err := parseFlags([]string{"--router", bad}, io.Discard); err == nil {
			t.Errorf("--router %q accepted", bad)
		}
	}
}
