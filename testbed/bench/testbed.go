package main

// --libvirt: the bench on the testbed (testbed/up --libvirt --agents), not
// on its own topology: one libvirtd per host namespace (nfh-hostA,
// nfh-hostB) with libvirt's TLS between them, and the agents in libvirt
// mode with their daemons' read-write sockets, as
// TestIntegrationLibvirtMigrate runs them. The bench's own topology runs
// no libvirtd; the testbed's scripts are the one place that knows how.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/testbed"
)

// The testbed's names (testbed/lib.sh, testbed/up) and the libvirt
// guest's (TestIntegrationLibvirtMigrate's).
const (
	tbClient  = "nfh-client"
	tbUplink  = "nfh-up"
	tbGuestIP = "198.18.0.100"
	tbGateway = "198.18.0.1"
	lvDomain  = "lvvnf"
)

// tbHosts are the testbed's hosts the libvirt methods move between.
var tbHosts = []string{"hostA", "hostB"}

// testbedEnv is the testbed as --libvirt runs it: the bench's image dir,
// the binaries next to --migratord (netctl with it; default: the
// testbed's, NFH_BIN or build/bin), and each agent in libvirt mode with
// its daemon's read-write socket, its TLS URI and its /run/libvirt.
func testbedEnv(o options) testbed.Env {
	env, _ := testbed.FindEnv()
	env.ImageDir = o.imageDir
	if o.migratord != "" {
		env.BinDir = filepath.Dir(o.migratord)
	}
	for _, h := range tbHosts {
		env = env.WithAgentArgs(h, "--libvirt-socket="+env.LibvirtSocket(h), "--libvirt-uri="+env.LibvirtTLSURI(h),
			"--libvirt-run-dir="+filepath.Join(env.LibvirtDir(h), "run"))
	}
	return env
}

// testbedUp takes the testbed down (whatever an earlier run left) and
// brings it up with libvirt and the agents; down takes it down again and
// checks that nothing is left (it logs what is).
func testbedUp(ctx context.Context, env testbed.Env, log *slog.Logger) (hosts []*Host, down func(), err error) {
	if miss := env.Missing(); len(miss) > 0 {
		return nil, nil, fmt.Errorf("the testbed needs %s (make build image)", strings.Join(miss, ", "))
	}
	down = func() {
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if out, err := env.Down(dctx); err != nil {
			log.Warn("testbed/down", "err", err, "output", out)
		}
		if ns, _ := testbed.Namespaces(); len(ns) > 0 {
			log.Warn("namespaces left after testbed/down", "netns", ns)
		}
		if pids, _ := testbed.LibvirtdProcesses(); len(pids) > 0 {
			log.Warn("libvirtd processes left after testbed/down", "pids", pids)
		}
	}
	if _, err := env.Down(ctx); err != nil {
		return nil, nil, err
	}
	out, err := env.UpLibvirt(ctx, len(tbHosts), true)
	if err != nil {
		down()
		return nil, nil, err
	}
	log.Info("testbed up --libvirt --agents", "output", out)
	for _, h := range tbHosts {
		hosts = append(hosts, &Host{Name: h, Netns: "nfh-" + h, Addr: netip.MustParseAddr(env.HostAddr(h)), Uplink: tbUplink})
	}
	return hosts, down, nil
}
