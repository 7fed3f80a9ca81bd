// Package handoff is the contract between a migration and the dataplane
// that moves a VM's traffic with it: the Handoff a session drives at each
// step of a migration, the Quiescer that lets the agent stop the guest with
// nothing in QEMU's hands, the guest's tap as the dataplane needs it, the
// hook that runs when that tap exists, the flush stream between the two
// ends, and Nop, the hand-off of an agent without a dataplane.
//
// It imports nothing of nfhandoff but migrator/api, so a dataplane can
// implement it without depending on the migration machinery (QUIC, QMP,
// policy, certificates), and the migration machinery can drive it without
// depending on eBPF.
package handoff
