package transport

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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

// PeerAddrs lists every address of the file once, sorted and unmapped, and
// fails on a file that cannot be read or parsed.
func TestPeerAddrs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers")
	data := "hostC 198.18.0.13:7443\nhostA 198.18.0.11:7443\nhostA2 198.18.0.11:7444\nhostD [::ffff:198.18.0.14]:7443\nhostE [2001:db8::5]:7443\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := PeerAddrs(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.13"),
		netip.MustParseAddr("198.18.0.14"), netip.MustParseAddr("2001:db8::5")}
	if !slices.Equal(got, want) {
		t.Errorf("addrs %v, want %v", got, want)
	}
	if _, err := PeerAddrs(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "reading peers") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("hostA name:7443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := PeerAddrs(bad); err == nil || !strings.Contains(err.Error(), "want IP:PORT") {
		t.Errorf("bad file: %v", err)
	}
}
