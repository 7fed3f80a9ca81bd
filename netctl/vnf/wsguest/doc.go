// Package wsguest is the guest side of the working-set report
// (migrator/wsreport): it finds the physical frames of what the vnf uses,
// its working set first, then its other resident memory (code, stacks,
// heap), in /proc/self/pagemap, and writes a report every second to a
// virtio-serial port whose host end migratord reads. Socket buffers and
// other kernel memory are not the process's pages and are not reported.
//
// The guest writes whether or not the host listens: writes do not block
// (a port with no host end is skipped), and a report cut short is found
// and dropped by the host's reader.
package wsguest
