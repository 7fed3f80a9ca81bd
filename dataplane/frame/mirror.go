package frame

import "bytes"

// MirrorKeep is how many MIRROR copies a VM keeps (the frame QEMU holds is
// among the last few).
const MirrorKeep = 256

// MirrorRing keeps the last MirrorKeep MIRROR copies of a migration,
// numbered 1, 2, ... in capture order.
type MirrorRing struct {
	buf [MirrorKeep][]byte
	n   uint64 // copies since reset
}

// Reset forgets every copy.
func (m *MirrorRing) Reset() { *m = MirrorRing{} }

// N is the number of copies added since Reset (the newest is copy N).
func (m *MirrorRing) N() uint64 { return m.n }

// Add keeps b as the next copy.
func (m *MirrorRing) Add(b []byte) {
	m.buf[m.n%MirrorKeep] = b
	m.n++
}

// Get returns copy number k (1-based) if it is still kept.
func (m *MirrorRing) Get(k uint64) ([]byte, bool) {
	if k == 0 || k > m.n || m.n-k >= MirrorKeep {
		return nil, false
	}
	return m.buf[(k-1)%MirrorKeep], true
}

// Find returns the number of the newest kept copy equal to f, searching
// from copy from down.
func (m *MirrorRing) Find(f []byte, from uint64) (uint64, bool) {
	for k := min(from, m.n); k >= 1; k-- {
		c, kept := m.Get(k)
		if !kept {
			return 0, false
		}
		if bytes.Equal(c, f) {
			return k, true
		}
	}
	return 0, false
}
