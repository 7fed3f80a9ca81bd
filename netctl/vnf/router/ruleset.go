package router

import "fmt"

// Names in the guest's ruleset.
const (
	Table       = "nfh_router"    // table ip
	DropCounter = "forward_drops" // named counter of the forward chain's drops
)

// Ruleset is the nftables ruleset (for nft -f) of a router between in
// (access) and out (core). It replaces the table whole in one transaction,
// so a vnf restarted in the same guest applies it again cleanly.
func Ruleset(in, out string) string {
	return fmt.Sprintf(`# nfhandoff guest router: %[1]s (access) -> %[2]s (core), masquerade on %[2]s
table ip %[3]s
delete table ip %[3]s
table ip %[3]s {
	counter %[4]s {
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "%[1]s" oifname "%[2]s" ct state new accept
		counter name "%[4]s" drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "%[2]s" masquerade
	}
}
`, in, out, Table, DropCounter)
}
