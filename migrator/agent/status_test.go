package agent

import (
	"reflect"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/vnfproto"
)

func TestGuestStatusMapping(t *testing.T) {
	s := vnfproto.Status{
		BootID: [16]byte{0xde, 0xad, 0xbe, 0xef, 15: 0x01}, Uptime: 3 * time.Second,
		PacketsReflected: 1, EchoPackets: 2, ReflectorSeq: 3, WSSPages: 4, PagesWritten: 5,
		PagesVerified: 6, VerifyPasses: 7, CorruptPages: 8, StalePages: 9,
	}
	want := api.GuestStatus{
		BootID: "deadbeef000000000000000000000001", Uptime: 3 * time.Second,
		PacketsReflected: 1, EchoPackets: 2, ReflectorSeq: 3, WSSPages: 4, PagesWritten: 5,
		PagesVerified: 6, VerifyPasses: 7, CorruptPages: 8, StalePages: 9,
	}
	if got := guestStatus(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Every field of the wire status is carried: a new one must be mapped.
	if n, m := reflect.TypeOf(s).NumField(), reflect.TypeOf(want).NumField(); n != m {
		t.Fatalf("vnfproto.Status has %d fields, api.GuestStatus %d", n, m)
	}
}
