// Package vnf is the network function that runs inside test guests: a
// TWAMP-light reflector, a UDP echo server (RFC 862), a status server
// (package vnfproto; it also reports the guest kernel's UDP and interface
// drop counters) and a memory workload whose pages carry their index, a
// generation and a checksum, so that a page lost, torn or left stale by a
// live migration is detected from inside the guest. With Config.Mix the
// working set looks like a real VNF's memory: pages alike in every VM
// (code), pages of its own (random data, text) and zero pages. With
// Config.Router it also makes the guest a firewall/NAT between two
// interfaces (package router) and reports that role in its status.
//
// cmd/vnf parses flags and calls Run.
package vnf
