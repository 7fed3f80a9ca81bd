// Package libvirt is the start of nfhandoff's libvirt-backed VM runtime
// (issue 14), beside the agent's own QEMU runtime in migrator/vm: it
// describes an nfhandoff guest (an api.VMSpec booted from the vnf image)
// as a libvirt domain whose QEMU matches the one migrator/vm launches
// (machine type, CPU model, memory, vCPUs, kernel command line, virtio-net
// NICs on the host networks' bridges), and dials a libvirt daemon over its
// UNIX socket with github.com/digitalocean/go-libvirt.
//
// Migrating such domains (libvirt's peer-to-peer migration carried by the
// agents, the hand-off keyed on libvirt's events) is to come on top.
package libvirt
