package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// Helpers for the BPF program tests: a network namespace on a dedicated OS thread
// (BPF_PROG_TEST_RUN resolves __sk_buff.ifindex in the calling thread's netns), the
// objects loaded unpinned with a chosen ring size, and ring/counter readers.

// progNetns runs functions on one OS thread inside a fresh network namespace.
type progNetns struct{ *privtest.NetNS }

// newProgNetns skips t unless it runs as root on a kernel with what the
// programs need (ring buffer dynptrs), and makes the namespace.
func newProgNetns(t *testing.T) *progNetns {
	t.Helper()
	privtest.RequireRoot(t)
	privtest.SkipOnOldKernel(t, "bpf_ringbuf_reserve_dynptr", func() error {
		return features.HaveProgramHelper(ebpf.SchedCLS, asm.FnRingbufReserveDynptr)
	})
	return &progNetns{privtest.NewNetNS(t, "dpt")}
}

// addLink creates an up veth link (a stand-in for a tap or the tunnel device; the
// kernel may lack the dummy driver) and returns its ifindex.
func (n *progNetns) addLink(t *testing.T, name string, mac net.HardwareAddr) uint32 {
	t.Helper()
	var idx int
	var err error
	n.Do(func() { idx, err = privtest.AddVeth(name, mac) })
	if err != nil {
		t.Fatalf("adding link %s: %v", name, err)
	}
	return uint32(idx)
}

// testSkbCtx is struct __sk_buff up to and including ifindex: the only context field the
// tests set (BPF_PROG_TEST_RUN accepts a shorter context and zero-fills the rest).
type testSkbCtx struct {
	_       [10]uint32 // len .. ingress_ifindex
	Ifindex uint32
}

// runProg runs prog once on frame as if it arrived on (or left through) ifindex
// (0: the netns's loopback) and returns the verdict and the frame afterwards.
func (n *progNetns) runProg(prog *ebpf.Program, frame []byte, ifindex uint32) (int32, []byte, error) {
	opts := &ebpf.RunOptions{
		Data:    frame,
		DataOut: make([]byte, len(frame)+256),
	}
	if ifindex != 0 {
		opts.Context = testSkbCtx{Ifindex: ifindex}
	}
	var ret uint32
	var err error
	n.Do(func() { ret, err = prog.Run(opts) })
	return int32(ret), opts.DataOut, err
}

// loadTestObjects loads the programs (with the tunnel's VNI, as New does) and
// maps without pinning, with a ring of ringBytes (a power of two, at least a
// page).
func loadTestObjects(t *testing.T, ringBytes uint32) *handoffObjects {
	t.Helper()
	spec, err := handoffSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
	}
	spec.Maps[handoffMapRing].MaxEntries = ringBytes
	var objs handoffObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("loading: %+v", ve)
		}
		t.Fatalf("loading: %v", err)
	}
	t.Cleanup(func() { objs.Close() })
	return &objs
}

// testTunnelDrops returns tunnel_drops summed over CPUs.
func testTunnelDrops(t *testing.T, objs *handoffObjects) tunnelCounters {
	t.Helper()
	c, err := (&bpfMaps{tunnelDrops: objs.TunnelDrops}).tunnelDropCounts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sumTestCounters returns the VM's counters summed over CPUs (zero if absent).
func sumTestCounters(t *testing.T, objs *handoffObjects, key handoffVmKey) handoffVmCounters {
	t.Helper()
	var per []handoffVmCounters
	var s handoffVmCounters
	if err := objs.Counters.Lookup(&key, &per); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return s
		}
		t.Fatalf("reading counters: %v", err)
	}
	for _, c := range per {
		s.add(c)
	}
	return s
}

// testRecord is one decoded ring record.
type testRecord struct {
	hdr   handoffRecHdr
	frame []byte
}

// readTestRecords drains the ring (every record already submitted).
func readTestRecords(t *testing.T, objs *handoffObjects) []testRecord {
	t.Helper()
	rd, err := ringbuf.NewReader(objs.Ring)
	if err != nil {
		t.Fatalf("ring reader: %v", err)
	}
	defer rd.Close()
	var recs []testRecord
	for {
		rd.SetDeadline(time.Now().Add(10 * time.Millisecond))
		r, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return recs
		}
		if err != nil {
			t.Fatalf("reading ring: %v", err)
		}
		h, err := decodeTestRecHdr(r.RawSample)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, testRecord{hdr: h, frame: r.RawSample[recHdrLen:]})
	}
}

// decodeTestRecHdr decodes a ring record's header as the generated type
// lays it out (binary.Decode skips the HostLayout marker).
func decodeTestRecHdr(b []byte) (handoffRecHdr, error) {
	var h handoffRecHdr
	if len(b) < recHdrLen {
		return h, fmt.Errorf("record of %d bytes, shorter than its header", len(b))
	}
	if _, err := binary.Decode(b, binary.NativeEndian, &h); err != nil {
		return h, err
	}
	if int(h.Len) != len(b)-recHdrLen {
		return h, fmt.Errorf("record header says %d bytes, record carries %d", h.Len, len(b)-recHdrLen)
	}
	return h, nil
}

// Test addresses (198.18.0.0/15, locally administered MACs).
var (
	testVMMAC     = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0x01}
	testHostMAC   = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xaa}
	testPeerMAC   = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xbb}
	testOtherMAC  = net.HardwareAddr{0x02, 0xd0, 0, 0, 0, 0xcc}
	testVMIP      = net.IPv4(198, 18, 0, 50).To4()
	testRemoteIP  = uint32(198)<<24 | 18<<16 | 1<<8 | 2 // 198.18.1.2, host byte order
	testVNI       = uint32(0x4e46)
	broadcastMAC  = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	testVMKey     = handoffVmKey{Mac: [6]uint8(testVMMAC)}
	testOtherKey  = handoffVmKey{Mac: [6]uint8(testOtherMAC)}
	testVMIPBytes = [4]byte(testVMIP)
)

// bpfEnv is a loaded collection plus a netns with stand-ins for a VM's tap, a tap
// that belongs to no VM, and the tunnel device.
type bpfEnv struct {
	t                     *testing.T
	objs                  *handoffObjects
	ns                    *progNetns
	tap, strayTap, tunnel uint32
}

func newBPFEnv(t *testing.T, ringBytes uint32) *bpfEnv {
	t.Helper()
	ns := newProgNetns(t)
	e := &bpfEnv{t: t, objs: loadTestObjects(t, ringBytes), ns: ns}
	e.tap = e.ns.addLink(t, "tap0", net.HardwareAddr{0x02, 0xd1, 0, 0, 0, 1})
	e.strayTap = e.ns.addLink(t, "tap1", net.HardwareAddr{0x02, 0xd1, 0, 0, 0, 2})
	e.tunnel = e.ns.addLink(t, "vx0", net.HardwareAddr{0x02, 0xd1, 0, 0, 0, 3})
	return e
}

// setVM writes the VM's entries as user space does: vms, vm_by_ifindex (when tap is
// set), vm_by_ip, and captured/released (only when absent, or when given: >= 0).
func (e *bpfEnv) setVM(m mode, tap uint32, captured, released int64) {
	e.t.Helper()
	st := handoffVmState{
		Mode: m, Ip: nativeIP(testVMIPBytes), TapIfindex: tap,
		TunIfindex: e.tunnel, RemoteIp: testRemoteIP, Vni: testVNI,
	}
	e.put(e.objs.Vms, testVMKey, st)
	if tap != 0 {
		e.put(e.objs.VmByIfindex, tap, testVMKey)
	}
	e.put(e.objs.VmByIp, st.Ip, testVMKey)
	if captured >= 0 {
		e.put(e.objs.Captured, testVMKey, uint64(captured))
	}
	if released >= 0 {
		e.put(e.objs.Released, testVMKey, uint64(released))
	}
}

func (e *bpfEnv) put(m *ebpf.Map, k, v any) {
	e.t.Helper()
	if err := m.Put(k, v); err != nil {
		e.t.Fatalf("writing %v: %v", m, err)
	}
}

func (e *bpfEnv) state() handoffVmState {
	e.t.Helper()
	var st handoffVmState
	if err := e.objs.Vms.Lookup(testVMKey, &st); err != nil {
		e.t.Fatalf("reading vms: %v", err)
	}
	return st
}

func (e *bpfEnv) captured() uint64 {
	e.t.Helper()
	var n uint64
	if err := e.objs.Captured.Lookup(testVMKey, &n); err != nil {
		e.t.Fatalf("reading captured: %v", err)
	}
	return n
}

// run runs prog on frame (ifindex: skb->ifindex, 0 = loopback) and returns the verdict
// and the frame as the program left it.
func (e *bpfEnv) run(prog *ebpf.Program, frame []byte, ifindex uint32) (int32, []byte) {
	e.t.Helper()
	ret, out, err := e.ns.runProg(prog, frame, ifindex)
	if err != nil {
		e.t.Fatalf("running %v on %d bytes: %v", prog, len(frame), err)
	}
	return ret, out
}

// counters returns the VM's counters summed over CPUs and checks the invariant the
// C file documents: every frame seen has exactly one outcome.
func (e *bpfEnv) counters() handoffVmCounters {
	e.t.Helper()
	c := sumTestCounters(e.t, e.objs, testVMKey)
	outcomes := c.Passed + c.Mirrored + c.MirrorMissed + c.Buffered + c.Held + c.Forwarded +
		c.ReleasedPass + c.DropRingFull + c.DropTooLarge + c.DropForward + c.ArpAnswered
	if c.Seen != outcomes {
		e.t.Errorf("counters %+v: seen %d != sum of outcomes %d", c, c.Seen, outcomes)
	}
	return c
}

// nativeIP is the u32 whose memory holds the address bytes (network byte order), as
// the program reads iphdr.daddr.
func nativeIP(b [4]byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Frame builders.

func ethFrame(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := append(append([]byte{}, dst...), src...)
	f = append(f, byte(etherType>>8), byte(etherType))
	return append(f, payload...)
}

// vlanTagged inserts an 802.1Q tag (VLAN id) after the MAC addresses.
func vlanTagged(f []byte, id uint16) []byte {
	out := append([]byte{}, f[:12]...)
	out = append(out, 0x81, 0x00, byte(id>>8), byte(id))
	return append(out, f[12:]...)
}

// ipv4Frame is an Ethernet frame with an IPv4/UDP header to dstIP and size bytes in
// all (at least 42).
func ipv4Frame(dst net.HardwareAddr, dstIP net.IP, size int) []byte {
	ip := make([]byte, size-14)
	ip[0] = 0x45
	ipLen := len(ip)
	ip[2], ip[3] = byte(ipLen>>8), byte(ipLen)
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:16], net.IPv4(198, 18, 0, 1).To4())
	copy(ip[16:20], dstIP.To4())
	for i := 28; i < len(ip); i++ {
		ip[i] = byte(i)
	}
	return ethFrame(dst, testPeerMAC, 0x0800, ip)
}

// arpRequest asks, broadcast, who has ip.
func arpRequest(ip net.IP) []byte {
	p := []byte{0, 1, 8, 0, 6, 4, 0, 1}
	p = append(p, testPeerMAC...)
	p = append(p, 198, 18, 0, 1)
	p = append(p, 0, 0, 0, 0, 0, 0)
	p = append(p, ip.To4()...)
	p = append(p, make([]byte, 18)...) // padded to the 60-byte minimum
	return ethFrame(broadcastMAC, testPeerMAC, 0x0806, p)
}

// localExperimental is a non-IP frame (EtherType 0x88B5, the probe's).
func localExperimental(dst net.HardwareAddr) []byte {
	return ethFrame(dst, testPeerMAC, 0x88b5, []byte("nfh probe payload, 46 bytes at least.........."))
}
