// Package router makes a test guest a stateful IPv4 firewall/NAT between
// two of its interfaces, the access side (In) and the core side (Out):
// it loads the netfilter modules the guest image ships but does not load
// at boot (a guest that forwards nothing should not pay for connection
// tracking), applies an nftables ruleset with nft (new connections only
// from In to Out, masqueraded on Out, replies both ways, every other
// forwarded packet dropped and counted) and only then turns on IPv4
// forwarding, so a failed setup never leaves an open router. It reports
// the guest's conntrack entry count and the forward drop counter.
package router
