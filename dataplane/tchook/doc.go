// Package tchook attaches an eBPF program to a device's tc hook, ingress
// or egress, so that it outlives the process: with tcx (Linux 6.6 and
// later) as a link pinned on a bpf filesystem, which a restarted process
// finds and updates in place (the hook is never missing meanwhile); on
// older kernels, or when asked, as a clsact direct-action filter. Detach
// removes the attachment and leaves the device as it found it (a clsact
// qdisc left empty goes too).
//
// It is Linux only: elsewhere Attach says it is not implemented on GOOS.
package tchook
