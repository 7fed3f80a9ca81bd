package vnf

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// writeAndFree maps mb MiB of anonymous memory, writes every byte (so that
// the guest's kernel backs each page with a frame of non-zero content) and
// unmaps it: the frames go back to the kernel's free lists holding that
// content, as a VNF's memory does after a burst. Outside the Go heap, so
// the runtime's memory limit is not spent on it.
func writeAndFree(mb int) error {
	if mb == 0 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, mb<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return fmt.Errorf("mapping %d MiB to write and free: %w", mb, err)
	}
	x := uint64(0x9e3779b97f4a7c15) // xorshift64: cheap, never zero
	for i := 0; i+8 <= len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	if err := syscall.Munmap(b); err != nil {
		return fmt.Errorf("unmapping the %d MiB written: %w", mb, err)
	}
	return nil
}
