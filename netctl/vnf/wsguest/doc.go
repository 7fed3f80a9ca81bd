// Package wsguest is the guest side of the working-set report
// (migrator/wsreport): it finds the physical frames of what the vnf uses
// and answers each request migratord writes to a virtio-serial port with
// one report, hottest first: the kernel's frames on the packet path (page
// tables, the kernel's own multi-page buffers such as the network's
// receive buffers, from /proc/kpageflags), its objects (slab) and reserved
// frames (its image and data, the page structures, per-CPU data: what it
// writes first when the guest runs again; the agent asks only for the
// pages still to be sent, so the clean ones cost the rest nothing) and the
// working set (from /proc/self/pagemap); then its other resident memory
// (code, stacks, heap), and last its bulk: memory it touches in part or in
// order (the working set beyond its hot part).
//
// The guest writes only when asked, never unasked: while a migration
// stops the guest or runs it in post-copy, QEMU's emulation of the port
// touches guest memory only for traffic on it, and a page of that memory
// still at the source (a broken post-copy) would block QEMU's main thread.
// Writes do not block (a port with no host end is skipped), and a report
// cut short is found and dropped by the host's reader.
package wsguest
