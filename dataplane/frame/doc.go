// Package frame is what the dataplane does with a captured frame in user
// space, without touching a device: the bounded per-VM FIFO (Queue) the
// ring reader fills, the flush stream that carries a source's frames to the
// destination (FlushWriter, FlushReader, Origin), the completion of a
// checksum the kernel left partial (CompleteChecksum), the last MIRROR
// copies a source keeps to find the frame QEMU held (MirrorRing), and the
// probe frame that tells whether QEMU still reads a tap (Probe, IsProbe),
// and whether a frame was flooded to every host (Flooded).
//
// It is pure Go and runs on every GOOS.
package frame
