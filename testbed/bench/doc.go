// Command bench measures live migration of the same guest by several
// methods, side by side: (a) plain QEMU over TCP, (b) plain QEMU with its
// own TLS (tls-creds-x509) and (c) nfhandoff: a real migration through the
// project's agents, one migratord per bench host, QEMU's stream carried
// over QUIC with mutual TLS. For each guest and method it runs N
// migrations, ping-ponging the guest between two hosts, and reports QEMU's
// total time and downtime and the bytes that crossed the source host's
// uplink (veth counters, both directions: for nfhandoff that includes the
// QUIC/TLS overhead and the agents' control traffic), median and range,
// with the ratios of every method to (a) and (b), and for nfhandoff what
// the agent's record adds (end-to-end time, QUIC payload, passes).
//
// The plain methods move a guest the bench boots with migrator/vm; the
// nfhandoff methods a guest their agent boots from the same spec. One
// guest runs at a time. nfhandoff gets the plain methods' settings: the
// same bandwidth cap from the first byte, the same downtime limit, one
// QEMU channel (see nfhandoff.go); nfhandoff-adaptive (opt-in, --methods)
// keeps the agents' default rate-adaptive start.
//
// It builds its own two-host topology with the prefix "nfb-" (never the
// testbed's nfh-*), checks after every migration that the guest still
// answers with the same boot ID and no integrity errors, and removes
// everything (agents, guests, namespaces, run dir) on exit or interrupt.
//
//	go run ./testbed/bench --runs 3 --json build/bench.json
package main
