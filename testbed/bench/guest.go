package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

// Guest is one benchmark guest configuration.
type Guest struct {
	Label     string   // e.g. "idle-256M"
	MemoryMiB int      // guest RAM
	VNF       []string // vnf arguments
	// Firewall: a second NIC on the core, forwarding (and NATing) the
	// client's traffic to the server: a TCP flow crosses every move.
	Firewall bool
	// Gang: this many guests of this configuration, moved as one (see
	// gang.go); 0: one guest.
	Gang int
	// MaxBandwidth, if set, is this guest's QEMU max-bandwidth for every
	// method instead of --max-bandwidth (bytes/s): a cap its dirty rate
	// beats, so that post-copy is forced.
	MaxBandwidth uint64
	// TrafficTail, if set, is how long the test traffic runs on after
	// each move instead of trafficTail: long enough to see the VNF
	// recover after post-copy.
	TrafficTail time.Duration
	// ProbeRate: the test traffic is the highest rate up to
	// --traffic-rate that the guest answers with bounded latency while
	// not moving (RateProbe), not --traffic-rate as such.
	ProbeRate bool
	// Libvirt: a libvirt domain on the testbed (--libvirt, the libvirt
	// methods), with TestIntegrationLibvirtMigrate's name and addresses.
	Libvirt bool
}

// Spec is the guest's VM spec.
func (g Guest) Spec() api.VMSpec {
	if g.Libvirt {
		return api.VMSpec{Name: lvDomain, MemoryMiB: g.MemoryMiB, VCPUs: 1, Image: "vnf",
			MAC: "52:54:00:4c:56:01", Address: tbGuestIP + "/24", Gateway: tbGateway, VNFArgs: g.VNF}
	}
	s := api.VMSpec{Name: "bench", MemoryMiB: g.MemoryMiB, VCPUs: 1, Image: "vnf",
		MAC: "52:54:00:be:0c:01", Address: guestIP + "/24", VNFArgs: g.VNF}
	if g.Firewall {
		s.NICs = []api.NIC{{MAC: "52:54:00:be:0c:02", Address: guestCore, Network: "core"}}
	}
	return s
}

// Specs are the VM specs of the guest, or of each guest of a gang: the
// same memory and vnf arguments, each its own name (bench-1, bench-2, ...),
// MAC and address; one --shared-seed for all, so their shared pages are
// byte-identical, and a --unique-seed each, so their unique and text
// pages differ.
func (g Guest) Specs() []api.VMSpec {
	if g.Gang == 0 {
		return []api.VMSpec{g.Spec()}
	}
	specs := make([]api.VMSpec, g.Gang)
	for i := range specs {
		s := g.Spec()
		s.Name, s.MAC = fmt.Sprintf("bench-%d", i+1), fmt.Sprintf("52:54:00:be:0d:%02x", i+1)
		s.Address = netip.AddrFrom4([4]byte{198, 19, 200, byte(101 + i)}).String() + "/24"
		s.VNFArgs = append(slices.Clone(g.VNF), "--shared-seed", gangSharedSeed, "--unique-seed", strconv.Itoa(i+1))
		specs[i] = s
	}
	return specs
}

// gangSharedSeed is the --shared-seed of every guest of a gang.
const gangSharedSeed = "20261207"

// specIP is the guest's (first NIC's) address.
func specIP(s api.VMSpec) netip.Addr {
	p, err := netip.ParsePrefix(s.Address)
	if err != nil {
		panic(fmt.Sprintf("bench guest %s: address %q: %v", s.Name, s.Address, err))
	}
	return p.Addr()
}

// mixVNF is a VNF-like working set: 200 MiB of code-like pages, 50 MiB
// unique random, 50 MiB text; 1 MiB/s dirtied.
var mixVNF = []string{"--mix", "shared=200:unique=50:text=50", "--dirty-rate", "1"}

// guests are the bench's cases: idle, full of random data, a firewall,
// and memory laid out like a real VNF's (shared code-like pages, unique
// random ones, text) for the agents' page coding, alone or four at once
// (issue 10's gang).
var guests = []Guest{
	{Label: "idle-256M", MemoryMiB: 256, VNF: []string{"--wss", "0", "--dirty-rate", "0"}},
	{Label: "full-1G", MemoryMiB: 1024, VNF: []string{"--wss", "600", "--fill", "random", "--dirty-rate", "0"}},
	{Label: "firewall-256M", MemoryMiB: 256, VNF: []string{"--router", "eth0:eth1", "--wss", "0", "--dirty-rate", "0"}, Firewall: true},
	{Label: "mix-512M", MemoryMiB: 512, VNF: mixVNF},
	{Label: "gang4-mix-512M", MemoryMiB: 512, VNF: mixVNF, Gang: 4},
	{Label: "ws-256M", MemoryMiB: 512, VNF: wsVNF, MaxBandwidth: wsCap, TrafficTail: 6 * time.Second, ProbeRate: true},
	{Label: "ws-hot-256M", MemoryMiB: 512, VNF: wsHotVNF, MaxBandwidth: wsCap, TrafficTail: 6 * time.Second, ProbeRate: true},
	{Label: "ws-flow-256M", MemoryMiB: 512, VNF: wsFlowVNF, MaxBandwidth: wsCap, TrafficTail: 8 * time.Second, ProbeRate: true},
	{Label: "ws-flow8-256M", MemoryMiB: 512, VNF: append(slices.Clone(wsFlowVNF), "--flow-mib", "8"), MaxBandwidth: wsCap, TrafficTail: 8 * time.Second, ProbeRate: true},
	// TestIntegrationLibvirtMigrate's domain and workload: 32 MiB rewritten
	// at 1 MiB/s, verified at 8 MiB/s (every move checks it intact).
	{Label: "lvvnf-256M", MemoryMiB: 256, VNF: []string{"--wss", "32", "--dirty-rate", "1", "--verify-rate", "8"}, Libvirt: true},
}

// wsHotVNF is a post-copy guest whose dirty memory at the switch is mostly
// not what it touches next: a 32 MiB hot part rewritten at random at 16
// MiB/s (nearly all of it dirty after a pass of several seconds) and the
// rest of its 256 MiB working set written in order at 24 MiB/s, a ring it
// fills and moves on from (what it wrote during the last pass is dirty at
// the switch, but it writes on ahead, into pages sent before). Together
// faster than wsCap, so post-copy is forced; after the switch only the hot
// part's missing pages stall it, and which of the dirty pages arrive first
// is what matters.
var wsHotVNF = []string{"--wss", "256", "--hot-mib", "32", "--dirty-rate", "16", "--sweep-rate", "24", "--ws-report-port", "org.nfhandoff.ws.0"}

// wsFlowVNF is ws-hot-256M whose test packets depend on its hot part, as
// a real function's depend on its flow tables: the in-kernel reflector
// looks up 8 entries of the 32 MiB hot part, chosen from the packet's
// sequence number, before it answers each (vnf --flow-lookups; the working
// set is the program's flow table). ws-hot-256M's reflector touches almost
// none of the working set, so after a post-copy switch it reflects at its
// rate as soon as the guest runs at all and its recovery reads 0 for every
// method; this one stalls on packet after packet until the hot part has
// arrived, so its recovery says how soon that was. The lookups are in the
// kernel because the socket reflector sustained only 500 pps under TCG
// with this workload (the probe's choice), and drained a post-copy
// backlog at that limit for seconds, whatever the working set did. A guest
// of its own, not a change to ws-hot-256M, so that row's figures stay
// comparable.
//
// ws-flow8-256M is the same with a flow table of 8 MiB, the first quarter
// of the hot part (vnf --flow-mib 8): a table small beside what plain
// post-copy sends, to see whether fetching the working set first can then
// bring recovery under issue 11's 0.3x (32 MiB cross a 1gbit link in
// 0.27 s whatever comes first).
var wsFlowVNF = append(slices.Clone(wsHotVNF), "--flow-lookups", "8")

// wsVNF is issue 11's post-copy guest: a 256 MiB working set rewritten at
// 48 MiB/s, half again the wsCap its moves get, so pre-copy never
// converges and post-copy is what moves it. The vnf answers its agent's
// requests for its working set (--ws-report-port, the default, named: the
// row relies on it) for the agents' prefetch.
var wsVNF = []string{"--wss", "256", "--dirty-rate", "48", "--ws-report-port", "org.nfhandoff.ws.0"}

// wsCap is ws-256M's max-bandwidth: 32 MiB/s.
const wsCap = 32 << 20

// status asks the vnf of the guest at ip on h for its status, from inside
// h's namespace.
func status(ctx context.Context, h *Host, ip netip.Addr, d time.Duration) (vnfproto.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var st vnfproto.Status
	err := h.Do(func() error {
		var err error
		st, err = vnfproto.Query(ctx, netip.AddrPortFrom(ip, vnfproto.Port))
		return err
	})
	return st, err
}

// waitReady waits until the vnf of the guest at ip on h has written its
// working set once.
func waitReady(ctx context.Context, h *Host, ip netip.Addr) (vnfproto.Status, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := status(ctx, h, ip, 5*time.Second)
		if err == nil && st.PagesWritten >= st.WSSPages {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, fmt.Errorf("guest %s on %s not ready (written %d of %d pages): %v", ip, h.Name, st.PagesWritten, st.WSSPages, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// verify checks the guest at ip on h after a migration: it answers, has the
// same boot ID as before, and after two more full verify passes of its
// working set (so every page was read after the move) counts no corrupt or
// stale page.
func verify(ctx context.Context, h *Host, ip netip.Addr, before vnfproto.Status) (vnfproto.Status, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := status(ctx, h, ip, 20*time.Second)
		if err != nil {
			return st, fmt.Errorf("guest %s does not answer on %s after migration: %w", ip, h.Name, err)
		}
		if st.BootID != before.BootID {
			return st, fmt.Errorf("guest rebooted: boot id %s, was %s", hex.EncodeToString(st.BootID[:]), hex.EncodeToString(before.BootID[:]))
		}
		if st.CorruptPages != 0 || st.StalePages != 0 {
			return st, fmt.Errorf("guest memory damaged: %d corrupt, %d stale pages", st.CorruptPages, st.StalePages)
		}
		if st.WSSPages == 0 || st.VerifyPasses >= before.VerifyPasses+2 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("guest verified only %d passes in 3m after migration", st.VerifyPasses-before.VerifyPasses)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// killLeftovers ends QEMU processes a crashed earlier run left under runDir.
func killLeftovers(runDir string) {
	pids, _ := filepath.Glob(filepath.Join(runDir, "*", "vms", "*", "qemu.pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmd), runDir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
