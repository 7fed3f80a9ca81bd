package vnf

import (
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
	fillRandom(b, uint64(mb)) // the working set's own random payload
	if err := syscall.Munmap(b); err != nil {
		return fmt.Errorf("unmapping the %d MiB written: %w", mb, err)
	}
	return nil
}
