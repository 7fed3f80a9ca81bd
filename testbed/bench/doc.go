// Command bench measures live migration of the same guest by several
// methods, side by side: (a) plain QEMU over TCP, (b) plain QEMU with its
// own TLS (tls-creds-x509) and (c) nfhandoff: a real migration through the
// project's agents, one migratord per bench host, QEMU's stream carried
// with mutual TLS on a lane over TCP (or a QUIC stream). For each guest and method it runs N
// migrations, ping-ponging the guest between two hosts, and reports QEMU's
// total time and downtime and the bytes that crossed the source host's
// uplink (veth counters, both directions: for nfhandoff that includes the
// TLS/QUIC overhead and the agents' control traffic), median and range,
// with the ratios of every method to (a) and (b), and for nfhandoff what
// the agent's record adds (end-to-end time, payload between the agents,
// passes).
//
// During every migration a TWAMP-light stream (netctl/verify's sender and
// Analyze, --traffic-rate, default 1000 pps) runs from a client namespace
// through the switch to the guest, from a second before the migration
// until two seconds after it; a third table gives, per guest and method,
// the packets lost, the largest gap (longest time between two replies),
// QEMU's downtime and the gap minus the downtime, with the differences to
// (a) and (b). The nfhandoff agents run the eBPF hand-off (uplink nfb-up,
// pins in a bpffs the bench mounts at <run dir>/bpffs) when their
// migratord has it. The wire bytes include the test traffic that crossed
// the source's uplink while migrating (about 0.2 MiB/s at 1000 pps).
//
// The firewall guest (firewall-256M: two NICs, forwarding and NATing from
// the client to a server on a core segment behind it) gets an iperf3 TCP
// flow across every move instead (survived, retransmits, longest stall),
// and once, not moving, the dataplane's idle cost: unbounded flows with
// the agent's programs on its path attached and detached in turn, and the
// programs' CPU from the kernel's BPF run-time statistics (idle.go).
//
// The plain methods move a guest the bench boots with migrator/vm; the
// nfhandoff methods a guest their agent boots from the same spec. One
// guest (or one gang) runs at a time. nfhandoff gets the plain methods'
// settings: the same bandwidth cap from the first byte, the same downtime
// limit, one QEMU channel (see nfhandoff.go); nfhandoff-adaptive (opt-in, --methods)
// keeps the agents' default rate-adaptive start.
//
// nfhandoff-codec (opt-in) has the agents code RAM pages on their link
// (migrator/pagecode, --codec auto; the default is none). For every method
// that coded pages a table gives the coders' account: QEMU's bytes, the
// link's, the pages by how they went (references, deltas, literal,
// unnamed) and, for nfhandoff-codec, its total time and wire bytes over
// nfhandoff's. The mix-512M guest (opt-in, --guests) holds memory
// laid out like a real VNF's (vnf --mix shared=200:unique=50:text=50,
// 1 MiB/s dirtied), the page coding's case.
//
// The gang4-mix-512M guest (opt-in, --guests; issue 10's gang) is four
// mix-512M guests with one --shared-seed and their own --unique-seed,
// booted together on one host and moved to the other all at once, each
// under its own TWAMP-light stream (at --traffic-rate if the four, not
// moving, answer it at once with bounded latency, else the highest lower
// rate they do, said in the table's notes). The plain methods move them
// started together (qemu-tcp-together) and one after another
// (qemu-tcp-sequential), the nfhandoff methods as one gang through the
// agents (the request's gang field, all at once, as netctl migrate VM1 VM2
// … --parallel 4 does): nfhandoff-codec as nfhandoff-gang, nfhandoff as
// nfhandoff-none. Its table gives per gang move the time (first request
// to the last guest running at its destination), the migration's bytes on
// the wire (both uplinks' counters halved, the test frames taken off), the
// ratios to qemu-tcp-together, CPU per GiB of every QEMU and agent, what
// the machine's processors did meanwhile, each guest's lost packets and
// the gang's references (gang.go, gangmove.go, gangstats.go, rate.go).
//
// It builds its own topology with the prefix "nfb-" (never the testbed's
// nfh-*): two hosts and a client on a switch, checks after every migration that the guest still
// answers with the same boot ID and no integrity errors, and removes
// everything (agents, guests, namespaces, run dir) on exit or interrupt.
//
// With --libvirt (issue 14's rows) it runs on the testbed instead
// (testbed/up --libvirt --agents: a libvirtd per host namespace with
// libvirt's TLS between them, an agent per host in libvirt mode), moves
// the vnf image as a libvirt domain (lvvnf-256M) by libvirt-tcp (plain
// virsh migrate --live --p2p, QEMU's stream over TCP), libvirt-tls (the
// same with --tls) and nfhandoff-libvirt (the agents' migrate request:
// libvirt's stream through their pipe, with the hand-off), and measures
// them as above, with libvirt's job statistics, both libvirt daemons'
// CPU and the ratios to libvirt's own methods (libvirt.go, lvmethod.go);
// testbed/down takes it all away at the end.
//
//	go run ./testbed/bench --runs 3 --json build/bench.json
//	go run ./testbed/bench --libvirt --runs 3 --json build/bench-libvirt.json
package main
