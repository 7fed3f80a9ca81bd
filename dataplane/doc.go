// Package dataplane is the host side of nfhandoff's eBPF traffic hand-off.
//
// It loads the TC programs of bpf/handoff.c (tcx, clsact as a fallback),
// pins their maps and links under a bpffs directory so that a restarted
// migratord keeps forwarding, and drives the per-VM modes the programs apply
// to frames for a VM: PASS, MIRROR, BUFFER, HOLD, FORWARD and RELEASE.
//
// A Dataplane reads the programs' ring buffer in one goroutine and sorts the
// captured frames into a bounded FIFO per VM. Its Handoff implements
// handoff.Handoff: at the source it buffers a VM's frames through the
// migration blackout, recovers the frame QEMU held when the guest stopped and
// the frames still queued in the tap, and sends them, in order, on the
// migration's flush stream; at the destination it holds the VM's frames until
// that stream has been injected into the new tap, then releases them, so
// that new traffic never overtakes old. Stragglers that still reach the
// source are encapsulated in VXLAN (collect_md device, UDP 4789) to the
// destination host, which takes them only from its tunnel peers
// (SetTunnelPeers) with the hand-off's VNI. Every frame dropped on the way
// is counted by reason.
//
// # Layout
//
// This package is the hand-off state machine and what it needs of the
// kernel; it is Linux only (New returns ErrNotSupported elsewhere):
//
//   - modes.go: the modes (enum vm_mode) and how each end moves through them.
//   - handoff_linux.go, entry_linux.go: the Handoff and its per-VM entry:
//     what both ends keep, sourceState, destState.
//   - tap_linux.go (Attach, Detach), source_linux.go (Begin, Quiesce,
//     Switchover, Resumed, source rollback), held_linux.go (the frame QEMU
//     held), dest_linux.go (Prepare, Started, Flushed, destination
//     rollback), flush_linux.go (the flush stream, both ends),
//     release_linux.go (RELEASE, both ends).
//   - dataplane_linux.go (loading, the hooks' names and places),
//     tunnel_linux.go, tunnelpeers_linux.go (the hosts the tunnel takes
//     frames from, its drops for no VM), maps_linux.go (the BPF maps),
//     ring_linux.go (the ring reader), metrics_linux.go, stats.go, config.go.
//   - abi.go and gen.go: the C structs and modes come from bpf2go's
//     handoff_bpfel.go; abi_test.go checks them against the object's BTF.
//
// Three sub-packages hold what does not depend on the hand-off's state:
// dataplane/frame (queue, flush format, checksum completion, mirror copies,
// probe frame), dataplane/tapio (injection into a tap, gratuitous ARPs,
// device counters, the tap's residue) and dataplane/tchook (attaching a
// program with tcx, clsact as a fallback).
package dataplane
