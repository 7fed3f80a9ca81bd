package tapio

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/mdlayher/packet"
	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestInjectLimit(t *testing.T) {
	for qlen, want := range map[uint32]uint64{0: 16, 10: 16, 32: 16, 100: 50, 1000: 500} {
		if got := injectLimit(qlen); got != want {
			t.Errorf("injectLimit(%d) = %d, want %d", qlen, got, want)
		}
	}
}

// sendPlain writes frame through an ordinary packet socket (through the
// qdisc layer and the egress hooks); a hook's drop shows as ENOBUFS.
func sendPlain(t *testing.T, ifname string, frame []byte) error {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	c, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.WriteTo(frame, &packet.Addr{HardwareAddr: frame[:6]})
	return err
}

// checkBypass sends frame seq through an ordinary socket, which the egress
// drop rule must eat, then seq+1 through an Injector, which must arrive.
func checkBypass(t *testing.T, tap *os.File, hook string, seq uint32) {
	t.Helper()
	if err := sendPlain(t, "dptio0", ioFrame(ioVMMAC, seq, 60)); err != nil && !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("%s drop: plain send: %v", hook, err)
	}
	in, err := NewInjector("dptio0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Inject(context.Background(), ioFrame(ioVMMAC, seq+1, 60)); err != nil {
		t.Fatal(err)
	}
	f, ok := ioReadTap(t, tap, 2*time.Second)
	if !ok {
		t.Fatalf("%s drop: injected frame did not reach the tap", hook)
	}
	if got, _ := ioSeq(f); got != seq+1 {
		t.Fatalf("%s drop: read frame %d first, want only the injected %d (the rule did not drop the plain one)", hook, got, seq+1)
	}
	if res, err := in.Close(); err != nil || res.Injected != 1 || res.TxDropped != 0 {
		t.Errorf("%s: Close = %+v, %v", hook, res, err)
	}
}

// PACKET_QDISC_BYPASS skips both kinds of tc egress hook: a clsact matchall
// drop rule and a tcx program that drops everything.
func TestPrivInjectBypassesEgressHooks(t *testing.T) {
	ioEnterNetns(t)
	tap := ioTap(t, "dptio0", 100)
	l, err := netlink.LinkByName("dptio0")
	if err != nil {
		t.Fatal(err)
	}
	idx := l.Attrs().Index

	// Control: without a rule the plain frame arrives.
	if err := sendPlain(t, "dptio0", ioFrame(ioVMMAC, 1, 60)); err != nil {
		t.Fatal(err)
	}
	if f, ok := ioReadTap(t, tap, 2*time.Second); !ok {
		t.Fatal("plain frame did not arrive without a drop rule")
	} else if s, _ := ioSeq(f); s != 1 {
		t.Fatalf("read %d, want 1", s)
	}

	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, // TC_ACT_SHOT, TCX_DROP
		License:      "GPL",
	})
	if err != nil {
		t.Fatalf("loading drop program: %v", err)
	}
	defer prog.Close()

	// clsact + cls_bpf direct-action (this kernel has no matchall/gact).
	qd := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := netlink.QdiscAdd(qd); err != nil {
		t.Fatalf("adding clsact: %v", err)
	}
	drop := &netlink.BpfFilter{
		FilterAttrs:  netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.HANDLE_MIN_EGRESS, Handle: netlink.MakeHandle(0, 1), Priority: 1, Protocol: 0x0003},
		Fd:           prog.FD(),
		Name:         "dpt-drop",
		DirectAction: true,
	}
	if err := netlink.FilterAdd(drop); err != nil {
		t.Fatalf("adding clsact egress drop: %v", err)
	}
	checkBypass(t, tap, "clsact", 10)
	if err := netlink.QdiscDel(qd); err != nil {
		t.Fatal(err)
	}

	lk, err := link.AttachTCX(link.TCXOptions{Interface: idx, Program: prog, Attach: ebpf.AttachTCXEgress})
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skip("tcx not supported")
	}
	if err != nil {
		t.Fatalf("attaching tcx: %v", err)
	}
	defer lk.Close()
	checkBypass(t, tap, "tcx", 20)
}

// tun counts tx_packets when the reader reads a frame: an injector pacing on
// it never overfills the tap, even with 10× txqueuelen frames and a slow
// reader.
func TestPrivInjectPacedTap(t *testing.T) {
	ioEnterNetns(t)
	const qlen = 100
	tap := ioTap(t, "dptio0", qlen)
	in, err := NewInjector("dptio0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if in.Limit() != qlen/2 {
		t.Errorf("limit %d, want %d", in.Limit(), qlen/2)
	}
	before, err := DevStats("dptio0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 10 * qlen
	var wg sync.WaitGroup
	var got []uint32
	wg.Go(func() {
		buf := make([]byte, 65536)
		tap.SetReadDeadline(time.Now().Add(60 * time.Second))
		for len(got) < n {
			m, err := tap.Read(buf)
			if err != nil {
				t.Errorf("reading tap after %d frames: %v", len(got), err)
				return
			}
			if s, ok := ioSeq(buf[:m]); ok {
				got = append(got, s)
			}
			if len(got)%4 == 0 {
				time.Sleep(200 * time.Microsecond) // slower than the injector
			}
		}
	})
	for i := range n {
		if err := in.Inject(context.Background(), ioFrame(ioVMMAC, uint32(i), 60+i%1400)); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	wg.Wait()
	res, err := in.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Injected != n || res.TxDropped != 0 {
		t.Errorf("result %+v, want %d injected, 0 dropped", res, n)
	}
	after, err := DevStats("dptio0")
	if err != nil {
		t.Fatal(err)
	}
	if d := after.TxDropped - before.TxDropped; d != 0 {
		t.Errorf("tap tx_dropped +%d", d)
	}
	if d := after.TxPackets - before.TxPackets; d < n {
		t.Errorf("tap tx_packets +%d, want >= %d (counted at read)", d, n)
	}
	if len(got) != n {
		t.Fatalf("read %d frames, want %d", len(got), n)
	}
	for i, s := range got {
		if s != uint32(i) {
			t.Fatalf("frame %d read as #%d: out of order", s, i)
		}
	}
	if _, err := in.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

// tx_packets counts at read, not at enqueue: frames queued to a tap nobody
// reads are not counted, and the injector stops at its limit, waiting (ctx)
// for a reader rather than overfilling the queue.
func TestPrivInjectWaitsForReader(t *testing.T) {
	ioEnterNetns(t)
	tap := ioTap(t, "dptio0", 40) // limit 20
	in, err := NewInjector("dptio0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	base, _ := DevStats("dptio0")
	for i := range 20 {
		if err := in.Inject(context.Background(), ioFrame(ioVMMAC, uint32(i), 60)); err != nil {
			t.Fatal(err)
		}
	}
	dc, _ := DevStats("dptio0")
	if dc.TxPackets != base.TxPackets || dc.TxDropped != base.TxDropped {
		t.Errorf("20 unread frames: tx_packets +%d, tx_dropped +%d; want 0, 0", dc.TxPackets-base.TxPackets, dc.TxDropped-base.TxDropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := in.Inject(ctx, ioFrame(ioVMMAC, 20, 60)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("21st frame without a reader: %v, want a deadline error", err)
	}
	// Reading one frame makes room for one more.
	if f, ok := ioReadTap(t, tap, time.Second); !ok {
		t.Fatal("nothing queued")
	} else if s, _ := ioSeq(f); s != 0 {
		t.Fatalf("read %d, want 0", s)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := in.Inject(ctx2, ioFrame(ioVMMAC, 20, 60)); err != nil {
		t.Fatalf("after a read: %v", err)
	}
	dc, _ = DevStats("dptio0")
	if dc.TxPackets-base.TxPackets != 1 {
		t.Errorf("tx_packets +%d after one read, want +1", dc.TxPackets-base.TxPackets)
	}
}

func TestPrivInjectRejects(t *testing.T) {
	ioEnterNetns(t)
	ioTap(t, "dptio0", 100)
	if _, err := NewInjector("dptnone", nil); err == nil {
		t.Error("injector on a missing device")
	}
	in, err := NewInjector("dptio0", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 13, frame.MaxFrame + 1, frame.MaxCaptured + 1} {
		if err := in.Inject(context.Background(), make([]byte, n)); err == nil {
			t.Errorf("injected a %d-byte frame", n)
		}
	}
	if res, err := in.Close(); err != nil || res.Injected != 0 {
		t.Errorf("Close = %+v, %v", res, err)
	}
	if err := in.Inject(context.Background(), ioFrame(ioVMMAC, 0, 60)); err == nil {
		t.Error("Inject after Close succeeded")
	}
}
