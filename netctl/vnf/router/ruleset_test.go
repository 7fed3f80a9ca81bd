package router

import (
	"strings"
	"testing"
)

// The ruleset holds the rules the router's contract names, in an order
// where replies pass before the drop.
func TestRuleset(t *testing.T) {
	r := Ruleset("eth0", "eth1")
	want := []string{
		"table ip nfh_router\ndelete table ip nfh_router\ntable ip nfh_router {",
		"counter forward_drops {",
		"type filter hook forward priority filter; policy drop;",
		"ct state established,related accept",
		`iifname "eth0" oifname "eth1" ct state new accept`,
		`counter name "forward_drops" drop`,
		"type nat hook postrouting priority srcnat; policy accept;",
		`oifname "eth1" masquerade`,
	}
	at := 0
	for _, w := range want {
		i := strings.Index(r[at:], w)
		if i < 0 {
			t.Fatalf("ruleset lacks %q after offset %d:\n%s", w, at, r)
		}
		at += i + len(w)
	}
	if strings.Contains(r, `iifname "eth1" oifname "eth0" ct state new`) {
		t.Errorf("ruleset lets the core side open connections:\n%s", r)
	}
}
