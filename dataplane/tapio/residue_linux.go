package tapio

import (
	"errors"
	"fmt"
	"os"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"golang.org/x/sys/unix"
)

// residueBuf is the read buffer: any frame a tap can hold fits (tun
// truncates a frame that does not fit the read).
const residueBuf = 64 << 10

// ReadResidue reads the frames currently queued in a tap, through f, a
// duplicate of the tap descriptor QEMU reads (migratord's own). It reads
// until the queue is empty (EAGAIN) or max real frames were read, never
// waiting for more. Probe frames (frame.IsProbe) are dropped and counted in probes.
// Frames larger than frame.MaxFrame are returned as they are; the caller decides.
//
// The descriptor's file description, and so its O_NONBLOCK flag, is shared
// with QEMU: ReadResidue never calls f.Fd() (which would make it blocking
// for QEMU too) and refuses a blocking descriptor rather than change it.
// With IFF_VNET_HDR the virtio-net header before each frame is stripped
// and a checksum it left partial is finished (frame.CompleteChecksum).
func ReadResidue(f *os.File, max int) (frames [][]byte, probes int, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, 0, fmt.Errorf("residue: %w", err)
	}
	var hdr int
	var cerr error
	if err := rc.Control(func(fd uintptr) { hdr, cerr = residueCheck(int(fd)) }); err != nil {
		return nil, 0, fmt.Errorf("residue: %w", err)
	}
	if cerr != nil {
		return nil, 0, fmt.Errorf("residue: %w", cerr)
	}
	buf := make([]byte, residueBuf)
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for len(frames) < max {
			n, err := unix.Read(int(fd), buf)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
				return true // empty: done, never wait
			case err != nil:
				rerr = fmt.Errorf("residue: reading tap: %w", err)
				return true
			case n <= hdr:
				return true
			}
			f := buf[hdr:n]
			if frame.IsProbe(f) {
				probes++
				continue
			}
			c := append([]byte(nil), f...)
			// Read with a virtio-net header (a libvirt guest's tap), a
			// frame sent with checksum offload comes with its checksum
			// partial and the hint in the header, which is stripped: finish
			// it, as the captured frames are, or the guest drops it.
			frame.CompleteChecksum(c)
			frames = append(frames, c)
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	return frames, probes, err
}

// residueCheck makes sure fd is a non-blocking tap without packet info and
// returns the length of the virtio-net header before each frame (0 without
// IFF_VNET_HDR).
func residueCheck(fd int) (int, error) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return 0, fmt.Errorf("F_GETFL: %w", err)
	}
	if fl&unix.O_NONBLOCK == 0 {
		return 0, errors.New("tap descriptor is blocking (shared with QEMU: not changed)")
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.TUNGETIFF, ifr); err != nil {
		return 0, fmt.Errorf("TUNGETIFF: %w", err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_TAP == 0 || flags&unix.IFF_NO_PI == 0 {
		return 0, fmt.Errorf("not a tap without packet info (flags %#x)", flags)
	}
	if flags&unix.IFF_VNET_HDR == 0 {
		return 0, nil
	}
	sz, err := unix.IoctlGetInt(fd, unix.TUNGETVNETHDRSZ)
	if err != nil {
		return 0, fmt.Errorf("TUNGETVNETHDRSZ: %w", err)
	}
	return sz, nil
}
