package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestGangSpecs(t *testing.T) {
	i := slices.IndexFunc(guests, func(g Guest) bool { return g.Label == "gang4-mix-512M" })
	if i < 0 {
		t.Fatal("no gang4-mix-512M guest")
	}
	specs := guests[i].Specs()
	if len(specs) != 4 {
		t.Fatalf("%d specs, want 4", len(specs))
	}
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		args := strings.Join(s.VNFArgs, " ")
		if !strings.Contains(args, "--mix shared=200:unique=50:text=50") || !strings.Contains(args, "--shared-seed "+gangSharedSeed) {
			t.Errorf("%s: vnf %q, want the mix with the gang's shared seed", s.Name, args)
		}
		for _, k := range []string{s.Name, s.MAC, specIP(s).String(), args} {
			if seen[k] {
				t.Errorf("%s: %q shared with another guest of the gang", s.Name, k)
			}
			seen[k] = true
		}
		if s.MemoryMiB != 512 || specIP(s).String() == guestIP {
			t.Errorf("%s: %d MiB at %s", s.Name, s.MemoryMiB, specIP(s))
		}
	}
	if one := guests[0].Specs(); len(one) != 1 || one[0].Name != "bench" || specIP(one[0]).String() != guestIP {
		t.Errorf("a single guest's specs %+v", one)
	}
}

func TestGangOrders(t *testing.T) {
	set := &agentSet{}
	var got []string
	for _, m := range []Method{&plain{}, &nfhandoff{codec: true, agentSet: set}, &nfhandoff{agentSet: set}} {
		for _, o := range gangOrders(m) {
			got = append(got, o.label)
		}
	}
	if want := []string{"qemu-tcp-together", "qemu-tcp-sequential", "nfhandoff-gang", "nfhandoff-none"}; !slices.Equal(got, want) {
		t.Errorf("orders %q, want %q", got, want)
	}
}

// fakeMethod moves a guest in d, costing one second of source QEMU CPU;
// the guest named fail fails.
type fakeMethod struct {
	d       time.Duration
	fail    string
	running atomic.Int32
	most    atomic.Int32 // moves at once, at most
}

func (f *fakeMethod) Name() string                                             { return "fake" }
func (f *fakeMethod) Family() string                                           { return "fake" }
func (f *fakeMethod) Setup(context.Context, string, []*Host) error             { return nil }
func (f *fakeMethod) Boot(context.Context, api.VMSpec, *Host) (Running, error) { return nil, nil }
func (f *fakeMethod) Close() error                                             { return nil }

func (f *fakeMethod) Migrate(ctx context.Context, mv Move) (Outcome, error) {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	time.Sleep(f.d)
	if mv.Spec.Name == f.fail {
		return Outcome{}, errors.New("failed")
	}
	return Outcome{Dst: fakeGuest{}, CPU: CPU{SrcQEMU: time.Second}}, nil
}

type fakeGuest struct{}

func (fakeGuest) Stop(context.Context) error { return nil }

func TestTogetherAndOneByOne(t *testing.T) {
	mvs := []Move{{Spec: api.VMSpec{Name: "a"}}, {Spec: api.VMSpec{Name: "b"}}, {Spec: api.VMSpec{Name: "c"}}}
	ctx := context.Background()
	const d = 50 * time.Millisecond

	f := &fakeMethod{d: d}
	g, err := together(ctx, f, mvs)
	if err != nil || f.most.Load() != 3 || g.Time < d || g.Time > 2*d || g.CPU.SrcQEMU != 3*time.Second {
		t.Errorf("together: %v, %d at once, time %v, CPU %v", err, f.most.Load(), g.Time, g.CPU)
	}
	f = &fakeMethod{d: d}
	g, err = oneByOne(ctx, f, mvs)
	if err != nil || f.most.Load() != 1 || g.Time < 3*d || g.CPU.SrcQEMU != 3*time.Second {
		t.Errorf("one by one: %v, %d at once, time %v, CPU %v", err, f.most.Load(), g.Time, g.CPU)
	}
	for _, o := range g.Outcomes {
		if o.Asked.IsZero() || o.Dst == nil {
			t.Errorf("outcome %+v: no time asked or no guest", o)
		}
	}

	// A failed move: the others' guests are still reported where they are.
	f = &fakeMethod{d: d, fail: "b"}
	g, err = together(ctx, f, mvs)
	if err == nil || !strings.Contains(err.Error(), "b: failed") || g.Outcomes[0].Dst == nil || g.Outcomes[1].Dst != nil || g.Outcomes[2].Dst == nil {
		t.Errorf("together with a failure: %v, %+v", err, g.Outcomes)
	}
	g, err = oneByOne(ctx, &fakeMethod{fail: "b"}, mvs)
	if err == nil || g.Outcomes[0].Dst == nil || g.Outcomes[2].Dst != nil {
		t.Errorf("one by one with a failure: %v, %+v", err, g.Outcomes)
	}
}
