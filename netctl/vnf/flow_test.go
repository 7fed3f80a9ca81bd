package vnf

import (
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/twamp"
)

func seqPacket(seq uint32) []byte { return binary.BigEndian.AppendUint32(nil, seq) }

// A packet's entries follow from its sequence number, stay in the table
// and spread over it: a few thousand packets read most of a 256-entry
// table, one packet its lookups' worth.
func TestFlowTableEntries(t *testing.T) {
	const entries, lookups = 256, 4
	f := newFlowTable(newMemory(entries+10, FillRandom, nil), entries, lookups)
	hit := map[int]bool{}
	for seq := range uint64(2000) {
		for i := range lookups {
			e := f.entry(seq, i)
			if e < 0 || e >= entries {
				t.Fatalf("seq %d lookup %d: entry %d outside the table of %d", seq, i, e, entries)
			}
			if e != f.entry(seq, i) {
				t.Fatalf("seq %d lookup %d: entry not the same twice", seq, i)
			}
			hit[e] = true
		}
	}
	if len(hit) < entries*9/10 {
		t.Errorf("2000 packets read %d of %d entries", len(hit), entries)
	}
}

// A lookup finds the entries written so far and none of the others; a
// runt or an empty table reads nothing.
func TestFlowTableLookup(t *testing.T) {
	m := newMemory(64, FillRandom, nil)
	f := newFlowTable(m, 64, 8)
	if n := f.lookup(seqPacket(1)); n != 0 {
		t.Errorf("unwritten table: %d entries found", n)
	}
	for i := range 64 {
		m.write(i)
	}
	for seq := range uint32(100) {
		if n := f.lookup(seqPacket(seq)); n != 8 {
			t.Fatalf("seq %d: %d of 8 entries found", seq, n)
		}
	}
	if n := f.lookup([]byte{1, 2}); n != 0 {
		t.Errorf("runt: %d entries found", n)
	}
	if n := newFlowTable(m, 0, 8).lookup(seqPacket(1)); n != 0 {
		t.Errorf("empty table: %d entries found", n)
	}
	// The index stored atomically is the one the verifier reads.
	for i := range 64 {
		if s := m.verify(i); s != pageOK {
			t.Fatalf("page %d: %v after write", i, s)
		}
	}
}

// Lookups race with the workload's rewrites of the same pages by design;
// run with -race, this says they only touch the atomic index word.
func TestFlowTableConcurrentWrites(t *testing.T) {
	m := newMemory(32, FillPattern, nil)
	for i := range 32 {
		m.write(i)
	}
	f := newFlowTable(m, 32, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := range 2000 {
			m.write(n % 32)
		}
	})
	for seq := range uint32(2000) {
		if n := f.lookup(seqPacket(seq)); n != 4 {
			t.Fatalf("seq %d: %d of 4 entries found while rewriting", seq, n)
		}
	}
	wg.Wait()
}

func TestConfigFlowEntries(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want int
	}{
		{Config{WSSMB: 256, HotMB: 32}, 32 * 256},
		{Config{WSSMB: 8}, 8 * 256},
		{Config{Mix: Mix{Shared: 2, Zero: 1}}, 2 * 256},
		{Config{WSSMB: 256, HotMB: 32, FlowMB: 8, FlowLookups: 8}, 8 * 256},
	} {
		tt.c.setDefaults()
		if got := tt.c.flowEntries(); got != tt.want {
			t.Errorf("%+v: %d entries, want %d", tt.c, got, tt.want)
		}
	}
}

func TestConfigFlowLookupsErrors(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{WSSMB: 8, FlowLookups: -1}, "flow lookups -1"},
		{Config{WSSMB: 8, FlowLookups: maxFlowLookups + 1}, "flow lookups 65"},
		{Config{FlowLookups: 4}, "flow lookups need a working set"},
		{Config{WSSMB: 64, HotMB: 8, FlowMB: 9, FlowLookups: 4}, "flow table of 9 MiB"},
		{Config{WSSMB: 64, FlowMB: 65, FlowLookups: 4}, "flow table of 65 MiB"},
		{Config{WSSMB: 64, FlowMB: -1, FlowLookups: 4}, "flow table of -1 MiB"},
		{Config{WSSMB: 64, FlowMB: 8}, "a flow table size without flow lookups"},
	} {
		tt.c.setDefaults()
		if err := tt.c.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one saying %q", tt.c, err, tt.want)
		}
	}
}

// With FlowLookups the socket reflector still answers every test packet,
// in order.
func TestLoopbackFlowLookups(t *testing.T) {
	ready := make(lineWriter, 1)
	v, err := New(Config{
		TWAMPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0", StatusAddr: "127.0.0.1:0",
		WSSMB: 2, HotMB: 1, DirtyRate: 1, FlowLookups: 8, Ready: ready,
	}, discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("vnf not ready")
	}
	tw, _, _ := v.Addrs()
	for i := range uint32(5) {
		in := twamp.AppendSender(nil, twamp.SenderPacket{Seq: 100 + i, Timestamp: twamp.NewTimestamp(time.Now())})
		rp, err := twamp.DecodeReflector(exchange(t, tw, in))
		if err != nil {
			t.Fatal(err)
		}
		if rp.Seq != i || rp.SenderSeq != 100+i {
			t.Errorf("reply %d: seq %d sender seq %d", i, rp.Seq, rp.SenderSeq)
		}
	}
}
