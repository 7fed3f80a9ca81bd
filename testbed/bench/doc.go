// Command bench measures live migration of the same guest by several
// methods, side by side: plain QEMU over TCP, plain QEMU with its own TLS,
// and (once the engine exists) nfhandoff. For each guest and method it runs
// N migrations, ping-ponging the guest between two hosts, and reports QEMU's
// total time and downtime and the bytes that crossed the source host's
// uplink (veth counters, both directions), median and range, with ratios
// against the plain methods.
//
// It builds its own two-host topology with the prefix "nfb-" (never the
// testbed's nfh-*), boots guests with migrator/vm, checks after every
// migration that the guest still answers with the same boot ID and no
// integrity errors, and removes everything on exit or interrupt.
//
//	go run ./testbed/bench --runs 3 --json build/bench.json
package main
