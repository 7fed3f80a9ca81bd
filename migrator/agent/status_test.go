package agent

import (
	"reflect"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
)

func TestGuestStatusMapping(t *testing.T) {
	s := vnfproto.Status{
		BootID: [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 0x01}, Uptime: 3 * time.Second,
		PacketsReflected: 1, EchoPackets: 2, ReflectorSeq: 3, WSSPages: 4, PagesWritten: 5,
		PagesVerified: 6, VerifyPasses: 7, CorruptPages: 8, StalePages: 9,
		UDPInErrors: 553, UDPRcvbufErrors: 550, UDPMemErrors: 3, RxDropped: 0,
		Reported: vnfproto.HasUDPInErrors | vnfproto.HasUDPRcvbufErrors | vnfproto.HasUDPMemErrors | vnfproto.HasRxDropped,
	}
	u := func(v uint64) *uint64 { return &v }
	want := api.GuestStatus{
		BootID: "deadbeef000000000000000000000001", Uptime: 3 * time.Second,
		PacketsReflected: 1, EchoPackets: 2, ReflectorSeq: 3, WSSPages: 4, PagesWritten: 5,
		PagesVerified: 6, VerifyPasses: 7, CorruptPages: 8, StalePages: 9,
		UDPInErrors: u(553), UDPRcvbufErrors: u(550), UDPMemErrors: u(3), RxDropped: u(0),
	}
	if got := guestStatus(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Every field of the wire status is carried: a new one must be mapped.
	// (Reported is carried as the drop counters' nil or not.)
	if n, m := reflect.TypeOf(s).NumField()-1, reflect.TypeOf(want).NumField(); n != m {
		t.Fatalf("vnfproto.Status has %d fields besides Reported, api.GuestStatus %d", n, m)
	}

	// A counter not reported is nil: an old vnf, or a kernel without MemErrors.
	s.UDPMemErrors, s.RxDropped, s.Reported = 0, 0, vnfproto.HasUDPInErrors|vnfproto.HasUDPRcvbufErrors
	want.UDPMemErrors, want.RxDropped = nil, nil
	if got := guestStatus(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("partly reported: got %+v\nwant %+v", got, want)
	}
	s.UDPInErrors, s.UDPRcvbufErrors, s.Reported = 0, 0, 0
	want.UDPInErrors, want.UDPRcvbufErrors = nil, nil
	if got := guestStatus(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("old vnf: got %+v\nwant %+v", got, want)
	}
}

// A router's state maps with its counters (nil where not read); a vnf that
// is no router has none.
func TestGuestRouterMapping(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	for _, tt := range []struct {
		in   vnfproto.Router
		want *api.GuestRouter
	}{
		{vnfproto.Router{}, nil},
		{vnfproto.Router{Flags: vnfproto.RouterRole}, &api.GuestRouter{}},
		{vnfproto.Router{Flags: vnfproto.RouterRole, Failed: vnfproto.StepRuleset}, &api.GuestRouter{FailedStep: "ruleset"}},
		{vnfproto.Router{Flags: vnfproto.RouterRole | vnfproto.RouterUp | vnfproto.HasConntrack | vnfproto.HasForwardDrops,
			ConntrackEntries: 3, ForwardDrops: 0}, &api.GuestRouter{Up: true, ConntrackEntries: u(3), ForwardDrops: u(0)}},
		{vnfproto.Router{Flags: vnfproto.RouterRole | vnfproto.RouterUp | vnfproto.HasConntrack, ConntrackEntries: 1},
			&api.GuestRouter{Up: true, ConntrackEntries: u(1)}},
	} {
		if got := guestStatus(vnfproto.Status{Router: tt.in}).Router; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
