package dataplane

import "bytes"

// mirrorKeep is how many MIRROR copies a VM keeps (the frame QEMU holds is
// among the last few).
const mirrorKeep = 256

// mirrorRing keeps the last mirrorKeep MIRROR copies of a migration,
// numbered 1, 2, ... in capture order.
type mirrorRing struct {
	buf [mirrorKeep][]byte
	n   uint64 // copies since reset
}

func (m *mirrorRing) reset() { *m = mirrorRing{} }

func (m *mirrorRing) add(f frame) {
	m.buf[m.n%mirrorKeep] = f.data
	m.n++
}

// get returns copy number k (1-based) if it is still kept.
func (m *mirrorRing) get(k uint64) ([]byte, bool) {
	if k == 0 || k > m.n || m.n-k >= mirrorKeep {
		return nil, false
	}
	return m.buf[(k-1)%mirrorKeep], true
}

// find returns the number of the newest kept copy equal to f, searching
// from copy from down.
func (m *mirrorRing) find(f []byte, from uint64) (uint64, bool) {
	for k := min(from, m.n); k >= 1; k-- {
		c, kept := m.get(k)
		if !kept {
			return 0, false
		}
		if bytes.Equal(c, f) {
			return k, true
		}
	}
	return 0, false
}
