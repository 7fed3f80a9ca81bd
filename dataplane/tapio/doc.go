// Package tapio is the dataplane's I/O on a guest's tap and the host's
// devices, below the eBPF hooks: the Injector that writes frames into a tap
// past the tc/tcx egress hooks, paced so that neither the tap nor the guest
// overflows; the gratuitous ARPs that announce a moved VM (SendGARP); a
// device's counters from rtnetlink (DevStats), which tell how many frames
// QEMU has read from its tap; and the frames still queued in a tap
// (ReadResidue).
//
// It is Linux only: elsewhere every function returns an error saying it is
// not implemented on GOOS.
package tapio
