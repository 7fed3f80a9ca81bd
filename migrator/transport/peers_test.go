package transport

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePeers(t *testing.T) {
	got, err := ParsePeers([]byte("# agents\n\nhostA 198.18.0.11:7443\n  hostB\t198.18.0.12:7443  # second\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]netip.AddrPort{
		"hostA": netip.MustParseAddrPort("198.18.0.11:7443"),
		"hostB": netip.MustParseAddrPort("198.18.0.12:7443"),
	}
	if len(got) != len(want) || got["hostA"] != want["hostA"] || got["hostB"] != want["hostB"] {
		t.Errorf("peers %v, want %v", got, want)
	}
	for in, msg := range map[string]string{
		"hostA":                            `line 1: want "HOST ADDR:PORT"`,
		"hostA 1.2.3.4:1 x":                `line 1: want "HOST ADDR:PORT"`,
		"#\nhostA 198.18.0.11":             "line 2: address",
		"hostA 198.18.0.11:0":              "want IP:PORT",
		"hostA name:7443":                  "want IP:PORT",
		"host/A 1.2.3.4:1":                 "not allowed",
		"hostA 1.2.3.4:1\nhostA 1.2.3.4:2": "line 2: host hostA listed twice",
	} {
		if _, err := ParsePeers([]byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", in, err, msg)
		}
	}
}
