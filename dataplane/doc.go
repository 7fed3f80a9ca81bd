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
// destination host. Every frame dropped on the way is counted by reason.
package dataplane
