package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/testbed"
)

// Topology: two host namespaces, each with a bridge carrying its address
// and a guest tap, and an uplink veth (the "wire") to a switch namespace
// (a bridge, as in the testbed) where a client namespace sends the test
// traffic from.
const (
	prefix   = "nfb-"
	bridge   = "nfb-br"
	uplink   = "nfb-up"
	subnet   = "198.19.200.0/24" // inside 198.18.0.0/15, apart from the testbed's
	guestIP  = "198.19.200.100"
	switchNS = "nfb-sw"
	clientNS = "nfb-client"
	clientIP = "198.19.200.2/24"
)

// Host is one side of the topology.
type Host struct {
	Name  string // hostA
	Netns string // nfb-hostA
	Addr  netip.Addr
	L     *vm.Launcher // nil on the testbed (--libvirt): libvirt boots its guests
	// Uplink is the host's link to the switch, whose counters are the
	// wire bytes.
	Uplink string
}

// Do runs fn on a thread inside the host's namespace: sockets it opens and
// processes it starts (QEMU) live there.
func (h *Host) Do(fn func() error) error { return testbed.InNetns(h.Netns, fn) }

// Start boots spec on the host (incoming: waiting for migrate-incoming).
func (h *Host) Start(ctx context.Context, spec api.VMSpec, incoming bool) (*vm.Instance, error) {
	var inst *vm.Instance
	err := h.Do(func() error {
		var err error
		if incoming {
			inst, err = h.L.StartIncoming(ctx, spec)
		} else {
			inst, err = h.L.Start(ctx, spec)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := h.owns(inst.Record().PID); err != nil {
		stopGuest(inst)
		return nil, err
	}
	return inst, nil
}

// owns checks that process pid lives in the host's network namespace, so
// its migration traffic can only go where the bench's topology lets it.
func (h *Host) owns(pid int) error {
	var want, got unix.Stat_t
	if err := unix.Stat("/run/netns/"+h.Netns, &want); err != nil {
		return fmt.Errorf("netns %s: %w", h.Netns, err)
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
		return fmt.Errorf("netns of qemu %d: %w", pid, err)
	}
	if want.Ino != got.Ino || want.Dev != got.Dev {
		return fmt.Errorf("qemu %d runs outside netns %s", pid, h.Netns)
	}
	return nil
}

// WireBytes is what the host's uplink sent plus received so far.
func (h *Host) WireBytes() (uint64, error) {
	ns, err := netns.GetFromName(h.Netns)
	if err != nil {
		return 0, fmt.Errorf("opening netns %s: %w", h.Netns, err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", h.Netns, err)
	}
	defer nh.Close()
	l, err := nh.LinkByName(h.Uplink)
	if err != nil {
		return 0, fmt.Errorf("reading %s counters: %w", h.Uplink, err)
	}
	st := l.Attrs().Statistics
	return st.TxBytes + st.RxBytes, nil
}

// ip runs the ip command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// topoUp creates hostA and hostB (removing leftovers of an earlier run
// first) with launchers whose state lives under runDir.
func topoUp(runDir, imageDir string) ([]*Host, error) {
	topoDown()
	hosts := []*Host{
		{Name: "hostA", Addr: netip.MustParseAddr("198.19.200.11"), Uplink: uplink},
		{Name: "hostB", Addr: netip.MustParseAddr("198.19.200.12"), Uplink: uplink},
	}
	for i, h := range hosts {
		h.Netns = prefix + h.Name
		mac := fmt.Sprintf("02:00:c6:13:c8:%02x", 11+i)
		if err := ip("netns", "add", h.Netns); err != nil {
			return hosts, err
		}
		for _, args := range [][]string{
			{"-n", h.Netns, "link", "set", "lo", "up"},
			// A fixed address: otherwise the bridge takes the lowest of its
			// ports' and changes it when a guest's tap joins or leaves, and
			// the other host's stale ARP entry drops traffic for seconds.
			{"-n", h.Netns, "link", "add", bridge, "address", mac, "type", "bridge"},
			{"-n", h.Netns, "addr", "add", h.Addr.String() + "/24", "dev", bridge},
			{"-n", h.Netns, "link", "set", bridge, "up"},
		} {
			if err := ip(args...); err != nil {
				return hosts, err
			}
		}
	}
	if err := switchUp(hosts); err != nil {
		return hosts, err
	}
	if err := coreUp(hosts); err != nil {
		return hosts, err
	}
	for _, h := range hosts {
		err := h.Do(func() error {
			var err error
			h.L, err = vm.NewLauncher(vm.Config{
				Host: h.Name, StateDir: filepath.Join(runDir, h.Name), ImageDir: imageDir,
				Bridge: bridge, Networks: map[string]string{"core": coreBridge}, Accel: vm.AccelTCG, AccelCache: filepath.Join(runDir, "accel.json"),
			})
			return err
		})
		if err != nil {
			return hosts, fmt.Errorf("launcher on %s: %w", h.Name, err)
		}
	}
	return hosts, nil
}

// topoDown deletes the bench's namespaces (and with them bridges, veths
// and taps).
func topoDown() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			ip("netns", "del", e.Name())
		}
	}
}

// switchUp makes the switch (a bridge in its own namespace), plugs every
// host's uplink into it, and a client namespace for the test traffic.
func switchUp(hosts []*Host) error {
	cmds := [][]string{
		{"netns", "add", switchNS},
		{"-n", switchNS, "link", "set", "lo", "up"},
		{"-n", switchNS, "link", "add", "nfb-sw", "type", "bridge"},
		{"-n", switchNS, "link", "set", "nfb-sw", "up"},
		{"netns", "add", clientNS},
		{"-n", clientNS, "link", "set", "lo", "up"},
		{"link", "add", "nfb-c0", "netns", clientNS, "type", "veth", "peer", "name", "nfb-p-client", "netns", switchNS},
		{"-n", switchNS, "link", "set", "nfb-p-client", "master", "nfb-sw", "up"},
		{"-n", clientNS, "addr", "add", clientIP, "dev", "nfb-c0"},
		{"-n", clientNS, "link", "set", "nfb-c0", "up"},
	}
	for _, h := range hosts {
		port := "nfb-p-" + h.Name
		cmds = append(cmds,
			[]string{"link", "add", uplink, "netns", h.Netns, "type", "veth", "peer", "name", port, "netns", switchNS},
			[]string{"-n", h.Netns, "link", "set", uplink, "master", bridge, "up"},
			[]string{"-n", switchNS, "link", "set", port, "master", "nfb-sw", "up"})
	}
	for _, args := range cmds {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}
