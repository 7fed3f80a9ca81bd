package kreflect

import (
	"encoding/binary"
	"testing"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// mix64 is the program's hash (and the vnf's flowTable's).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// With a flow table the program looks up a test packet's entries, chosen
// from its sender sequence number as the vnf's socket path chooses them,
// in the table the caller maps: it finds exactly the keys written there,
// and answers the packet either way.
func TestPrivKernelReflectFlows(t *testing.T) {
	privtest.RequireRoot(t)
	const pages, entries, lookups = 16, 8, 4
	r := &Reflector{}
	if err := r.load(Config{Port: twamp.Port, Addr: guestIP, ErrorEstimate: uint16(twamp.DefaultErrorEstimate),
		FlowPages: pages, FlowEntries: entries, FlowLookups: lookups}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.objs.Close() })
	table := r.FlowTable()
	if len(table) != pages*FlowPageSize {
		t.Fatalf("flow table of %d octets, want %d", len(table), pages*FlowPageSize)
	}
	const seq = 4242
	// Only the first lookup's entry holds its key; the others hold none
	// (an entry's key is its index, so entry 0 always holds it: skip it).
	want := map[uint64]bool{}
	for i := range lookups {
		e := mix64(seq*lookups+uint64(i)) % entries
		if i == 0 && e != 0 {
			binary.LittleEndian.PutUint64(table[e*FlowPageSize:], e)
			want[e] = true
		}
	}
	wantFound := uint64(0)
	for i := range lookups {
		if e := mix64(seq*lookups+uint64(i)) % entries; want[e] {
			wantFound++
		}
	}
	in := testPacket(twamp.Port, twamp.AppendSender(nil, twamp.SenderPacket{Seq: seq, Padding: make([]byte, 27)}), 64, false)
	if ret, _ := run(t, r.objs.TwampReflect, in); ret != tcRedirect {
		t.Fatalf("verdict %d, want a redirect", ret)
	}
	if got := r.FlowFound(); got != wantFound {
		t.Errorf("found %d keys, want %d", got, wantFound)
	}
	// Every entry keyed: every lookup finds its key.
	for e := range uint64(entries) {
		binary.LittleEndian.PutUint64(table[e*FlowPageSize:], e)
	}
	in = testPacket(twamp.Port, twamp.AppendSender(nil, twamp.SenderPacket{Seq: seq + 1, Padding: make([]byte, 27)}), 64, false)
	run(t, r.objs.TwampReflect, in)
	if got := r.FlowFound(); got != wantFound+lookups {
		t.Errorf("found %d keys, want %d", got, wantFound+lookups)
	}
}

func TestFlowConfig(t *testing.T) {
	for _, c := range []Config{
		{FlowPages: -1},
		{FlowPages: 4, FlowEntries: 5},
		{FlowPages: 4, FlowEntries: 4, FlowLookups: MaxFlowLookups + 1},
		{FlowPages: 4, FlowLookups: 1},
	} {
		if err := c.validateFlows(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (Config{FlowPages: 4, FlowEntries: 2, FlowLookups: 8}).validateFlows(); err != nil {
		t.Error(err)
	}
}
