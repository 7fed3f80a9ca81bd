package tchook

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// setup enters a fresh netns with the veth tc0 and returns a Spec for its
// egress with a private bpffs as PinDir, and a program that passes
// everything.
func setup(t *testing.T) (Spec, *ebpf.Program) {
	t.Helper()
	privtest.EnterNetns(t, "dpt-tc")
	idx, err := privtest.AddVeth("tc0", nil)
	if err != nil {
		t.Fatal(err)
	}
	pin := t.TempDir()
	if err := unix.Mount("bpf", pin, "bpf", 0, ""); err != nil {
		t.Fatalf("mounting bpffs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(pin, unix.MNT_DETACH) })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, // TC_ACT_OK
		License:      "GPL",
	})
	if err != nil {
		t.Fatalf("loading program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return Spec{PinDir: pin, Dev: "tc0", Ifindex: idx, Name: "test_egress", Egress: true}, prog
}

// tcxPrograms is the number of tcx egress programs on s's device.
func tcxPrograms(t *testing.T, s Spec) int {
	t.Helper()
	res, err := link.QueryPrograms(link.QueryOptions{Target: s.Ifindex, Attach: ebpf.AttachTCXEgress})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Programs)
}

// A tcx hook is pinned, survives Close, is found and updated by the next
// Attach, and Detach removes it and its pin.
func TestPrivTCX(t *testing.T) {
	s, prog := setup(t)
	privtest.SkipOnOldKernel(t, "tcx", func() error {
		l, err := link.AttachTCX(link.TCXOptions{Interface: s.Ifindex, Program: prog, Attach: ebpf.AttachTCXEgress})
		if err == nil {
			l.Close()
		}
		return err
	})
	h, err := Attach(s, prog, discard)
	if err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(s.PinDir, "links", "tc0-test_egress")
	if !h.TCX() || !h.On("tc0", s.Ifindex) {
		t.Fatalf("hook %+v: want tcx on tc0", h)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if n := tcxPrograms(t, s); n != 1 {
		t.Fatalf("%d tcx programs after Close, want 1 (the pinned link)", n)
	}
	h, err = Attach(s, prog, discard) // a restart: the pinned link is updated
	if err != nil {
		t.Fatal(err)
	}
	if n := tcxPrograms(t, s); n != 1 {
		t.Errorf("%d tcx programs after a second Attach, want 1", n)
	}
	if err := h.Detach(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin after Detach: %v", err)
	}
	if n := tcxPrograms(t, s); n != 0 {
		t.Errorf("%d tcx programs after Detach, want 0", n)
	}
}

// With ForceClsact the hook is one direct-action filter, replaced (not
// added to) by the next Attach; Detach leaves no filter and no clsact.
func TestPrivClsact(t *testing.T) {
	s, prog := setup(t)
	s.ForceClsact = true
	for range 2 {
		h, err := Attach(s, prog, discard)
		if err != nil {
			t.Fatal(err)
		}
		if h.TCX() {
			t.Fatal("a tcx link with ForceClsact")
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	l, err := netlink.LinkByIndex(s.Ifindex)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := netlink.FilterList(l, netlink.HANDLE_MIN_EGRESS)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%d egress filters, want 1: %v", len(fs), fs)
	}
	if bf, ok := fs[0].(*netlink.BpfFilter); !ok || bf.Name != "nfh-test_egress" || !bf.DirectAction {
		t.Fatalf("filter %+v, want the direct-action bpf filter nfh-test_egress", fs[0])
	}
	if err := (&Hook{Spec: s}).Detach(); err != nil {
		t.Fatal(err)
	}
	qs, err := netlink.QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			t.Errorf("clsact left after Detach: %v", q)
		}
	}
}
