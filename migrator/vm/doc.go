// Package vm launches and controls the QEMU guests of one migratord: it
// turns an api.VMSpec into a tap device per NIC, each on the bridge of
// the NIC's host network (Config.Bridge for the default one,
// Config.Networks for the others), and a QEMU process (pinned machine
// type, kernel+initramfs boot, QMP socket), probes whether KVM really
// works (a boot test, cached across agents), re-adopts guests that kept
// running while the agent restarted, and removes what a guest leaves
// behind.
//
// QEMU runs in its own session and survives the agent. Per-VM files live in
// <StateDir>/vms/<name>/: qmp.sock, console.log, qemu.pid, qemu.stderr.
//
// Tap devices: single-queue, IFF_TAP|IFF_NO_PI, no vnet header, created
// exclusively (IFF_TUN_EXCL) and not persistent. The agent keeps a
// descriptor of the same open file as QEMU's (fd 3+i in QEMU for NIC i,
// which the guest sees as eth<i>), so packets still queued for the guest
// can be read by the agent once QEMU has stopped; a multi-queue tap would
// let the kernel spread those packets over queues instead. After an agent
// restart the descriptors are recovered from QEMU with pidfd_getfd,
// without touching the devices.
//
// Network operations happen in the network namespace that was current for
// the thread calling NewLauncher.
//
// QMP: qmpx is the transport (one shared connection, events fanned out),
// qmpcmd the commands, events and their typed arguments and replies.
package vm
