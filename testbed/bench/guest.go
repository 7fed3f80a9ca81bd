package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
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
}

// Spec is the guest's VM spec.
func (g Guest) Spec() api.VMSpec {
	s := api.VMSpec{Name: "bench", MemoryMiB: g.MemoryMiB, VCPUs: 1, Image: "vnf",
		MAC: "52:54:00:be:0c:01", Address: guestIP + "/24", VNFArgs: g.VNF}
	if g.Firewall {
		s.NICs = []api.NIC{{MAC: "52:54:00:be:0c:02", Address: guestCore, Network: "core"}}
	}
	return s
}

// guests are the bench's cases: idle, full of random data, a firewall,
// and memory laid out like a real VNF's (shared code-like pages, unique
// random ones, text) for the agents' page coding.
var guests = []Guest{
	{Label: "idle-256M", MemoryMiB: 256, VNF: []string{"--wss", "0", "--dirty-rate", "0"}},
	{Label: "full-1G", MemoryMiB: 1024, VNF: []string{"--wss", "600", "--fill", "random", "--dirty-rate", "0"}},
	{Label: "firewall-256M", MemoryMiB: 256, VNF: []string{"--router", "eth0:eth1", "--wss", "0", "--dirty-rate", "0"}, Firewall: true},
	{Label: "mix-512M", MemoryMiB: 512, VNF: []string{"--mix", "shared=200:unique=50:text=50", "--dirty-rate", "1"}},
}

var statusAddr = netip.AddrPortFrom(netip.MustParseAddr(guestIP), vnfproto.Port)

// status asks the guest's vnf for its status from inside h's namespace.
func status(ctx context.Context, h *Host, d time.Duration) (vnfproto.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var st vnfproto.Status
	err := h.Do(func() error {
		var err error
		st, err = vnfproto.Query(ctx, statusAddr)
		return err
	})
	return st, err
}

// waitReady waits until the vnf on h has written its working set once.
func waitReady(ctx context.Context, h *Host) (vnfproto.Status, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := status(ctx, h, 5*time.Second)
		if err == nil && st.PagesWritten >= st.WSSPages {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, fmt.Errorf("guest on %s not ready (written %d of %d pages): %v", h.Name, st.PagesWritten, st.WSSPages, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// verify checks the guest on h after a migration: it answers, has the
// same boot ID as before, and after two more full verify passes of its
// working set (so every page was read after the move) counts no corrupt or
// stale page.
func verify(ctx context.Context, h *Host, before vnfproto.Status) (vnfproto.Status, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := status(ctx, h, 20*time.Second)
		if err != nil {
			return st, fmt.Errorf("guest does not answer on %s after migration: %w", h.Name, err)
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
