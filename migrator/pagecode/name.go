package pagecode

import (
	"crypto/rand"

	"github.com/zeebo/blake3"
)

// Key keys the page names of one migration (or gang).
type Key [32]byte

// NewKey draws a random key.
func NewKey() Key {
	var k Key
	rand.Read(k[:]) // never fails (crypto/rand)
	return k
}

// Name names a page's content: the first 128 bits of its keyed BLAKE3.
type Name [16]byte

// namer names pages under one key; not safe for concurrent use.
type namer struct{ h *blake3.Hasher }

func newNamer(k Key) namer {
	h, err := blake3.NewKeyed(k[:])
	if err != nil {
		panic(err) // only for a key that is not 32 bytes
	}
	return namer{h: h}
}

func (n namer) name(page []byte) Name {
	n.h.Reset()
	n.h.Write(page)
	var out [32]byte
	n.h.Sum(out[:0])
	return Name(out[:16])
}
