package tapio

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openVnetTap creates the tap name as libvirt opens a guest's for QEMU:
// IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, non-blocking, not persistent (it goes
// with its last descriptor). It runs in the calling thread's network
// namespace and returns errors (it also runs outside a test's goroutine).
func openVnetTap(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// tunIff is TUNGETIFF of f: the tap's name and flags. It does not call
// f.Fd (which would make the shared description blocking).
func tunIff(f *os.File) (string, uint16, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return "", 0, err
	}
	var name string
	var flags uint16
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ifr, err := unix.NewIfreq("")
		if err != nil {
			ierr = err
			return
		}
		if ierr = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr); ierr == nil {
			name, flags = ifr.Name(), ifr.Uint16()
		}
	}); err != nil {
		return "", 0, err
	}
	return name, flags, ierr
}

// l4ChecksumOK reports whether an untagged IPv4 UDP or TCP frame's
// checksum verifies.
func l4ChecksumOK(f []byte) bool {
	if len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < 20 || total < ihl || total > len(ip) {
		return false
	}
	l4 := ip[ihl:total]
	s := onesSum(ip[12:20]) + uint32(ip[9]) + uint32(len(l4)) + onesSum(l4)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s == 0xffff
}

func onesSum(b []byte) uint32 {
	var s uint32
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}
