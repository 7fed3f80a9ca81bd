package vnfproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Every state a vnf sends round-trips: no router, a router being set up,
// one that failed at a step, one that is up with or without its counters.
func TestRouterRoundTrip(t *testing.T) {
	for _, r := range []Router{
		{},
		{Flags: RouterRole},
		{Flags: RouterRole, Failed: StepRuleset},
		{Flags: RouterRole | HasConntrack, Failed: StepForwarding, ConntrackEntries: 3},
		{Flags: RouterRole | RouterUp},
		{Flags: RouterRole | RouterUp | HasConntrack | HasForwardDrops, ConntrackEntries: 1 << 40, ForwardDrops: 7},
	} {
		s := sampleStatus()
		s.Router = r
		b := AppendStatus(nil, 9, s)
		if len(b) != StatusLen {
			t.Fatalf("len = %d, want %d", len(b), StatusLen)
		}
		_, got, err := DecodeStatus(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got != s {
			t.Errorf("got %+v, want %+v", got.Router, r)
		}
	}
}

// A vnf from before the router fields sends StatusDropsLen bytes: its
// drop counters are read and it is no router.
func TestStatusBeforeRouter(t *testing.T) {
	want := sampleStatus()
	b := AppendStatus(nil, 5, want)[:StatusDropsLen]
	want.Router = Router{}
	_, got, err := DecodeStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// A counter whose bit is clear goes out as zero; unknown flag bits are
// dropped on both sides.
func TestRouterUnreportedAndUnknown(t *testing.T) {
	s := sampleStatus()
	s.Router = Router{Flags: RouterRole | RouterUp | HasConntrack | 1<<9, ConntrackEntries: 2, ForwardDrops: 99}
	b := AppendStatus(nil, 1, s)
	if got := binary.BigEndian.Uint64(b[168:]); got != 0 {
		t.Fatalf("unreported forward drops sent as %d", got)
	}
	b[152] = 0x80 // a bit a later vnf may set
	_, got, err := DecodeStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Router{Flags: RouterRole | RouterUp | HasConntrack, ConntrackEntries: 2}
	if got.Router != want {
		t.Fatalf("got %+v, want %+v", got.Router, want)
	}
}

func TestRouterMalformed(t *testing.T) {
	full := AppendStatus(nil, 1, sampleStatus())
	set := func(off int, v uint32) []byte {
		c := bytes.Clone(full)
		binary.BigEndian.PutUint32(c[off:], v)
		return c
	}
	for name, b := range map[string][]byte{
		"up without the role":         set(152, uint32(RouterUp)),
		"counters without the role":   set(152, uint32(HasConntrack|HasForwardDrops)),
		"failed step while up":        set(156, uint32(StepModules)),
		"conntrack without its bit":   set(152, uint32(RouterRole|RouterUp|HasForwardDrops)),
		"forward drops without a bit": set(152, uint32(RouterRole|RouterUp|HasConntrack)),
		"failed step without role": func() []byte {
			c := set(152, 0)
			binary.BigEndian.PutUint64(c[160:], 0)
			binary.BigEndian.PutUint64(c[168:], 0)
			binary.BigEndian.PutUint32(c[156:], uint32(StepRuleset))
			return c
		}(),
	} {
		if _, _, err := DecodeStatus(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestRouterStepString(t *testing.T) {
	for s, want := range map[RouterStep]string{StepNone: "none", StepInterfaces: "interfaces", StepModules: "modules", StepRuleset: "ruleset",
		StepForwarding: "forwarding", 9: "step 9"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", uint32(s), got, want)
		}
	}
}
