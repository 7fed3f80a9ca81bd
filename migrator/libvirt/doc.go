// Package libvirt is nfhandoff's libvirt side (issue 14), beside the
// agent's own QEMU runtime in migrator/vm. It describes an nfhandoff guest
// (an api.VMSpec booted from the vnf image) as a libvirt domain whose QEMU
// matches the one migrator/vm launches (machine type, CPU model, memory
// with migrator/vm's TCG pad, vCPUs, kernel command line, virtio-net NICs
// on the host networks' bridges), and dials a libvirt daemon over its UNIX
// socket with github.com/digitalocean/go-libvirt.
//
// Its Watcher is the agent's libvirt mode (migratord --libvirt-socket): it
// follows a daemon's running domains, read-only (list, live XML, state,
// lifecycle events), and reports each as an api.VM (Record: NICs found by
// MAC with the taps libvirt made for them) so that the agent attaches its
// dataplane to those taps.
//
// Migrating such domains (libvirt's peer-to-peer migration carried by the
// agents, the hand-off keyed on libvirt's events) is to come on top.
package libvirt
