package vnf

import (
	"encoding/binary"
	"math/bits"
)

// DefaultSharedSeed is the shared seed of a VM started without one, so that
// VMs are alike by default.
const DefaultSharedSeed = 0x6e66682d73686172 // "nfh-shar"

// payloads makes page payloads. The guest runs under TCG, so every kind is
// cheap arithmetic (wyrand) and table look-ups, with no allocation.
type payloads struct {
	sharedSeed, uniqueSeed uint64
	code                   *tokens   // the shared pages' tokens; nil without shared pages
	text                   textTable // the text pages' tokens; zero without text pages
}

func newPayloads(mix Mix, sharedSeed, uniqueSeed uint64) payloads {
	p := payloads{sharedSeed: sharedSeed, uniqueSeed: uniqueSeed}
	if mix.Shared > 0 {
		p.code = newCodeTokens(sharedSeed)
	}
	if mix.Text > 0 {
		p.text = newTextTable()
	}
	return p
}

// fillPayload fills b, the payload of page index at generation gen, with
// content of kind k. Shared content depends on nothing but the shared
// seed, index and gen.
func (p *payloads) fillPayload(b []byte, k pageKind, index, gen uint64) {
	seed := index*0x9e3779b97f4a7c15 ^ gen*0xbf58476d1ce4e5b9
	switch k {
	case kindZeroFill:
		clear(b)
	case kindPattern:
		w := wyrand(&seed)
		for i := 0; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], w)
		}
	case kindShared:
		p.code.fillCode(b, seed^p.sharedSeed*0x94d049bb133111eb)
	case kindUnique:
		fillRandom(b, seed^p.uniqueSeed*0x94d049bb133111eb)
	case kindText:
		p.text.fill(b, seed^p.uniqueSeed*0xd6e8feb86659fd93)
	default:
		fillRandom(b, seed)
	}
}

func fillRandom(b []byte, seed uint64) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], wyrand(&seed))
	}
}

// tokenMax is the longest token of the shared and text pages. Each token is
// stored padded to tokenMax bytes, so one move writes it.
const tokenMax = 32

// tokens is a table of short byte strings that payloads are made of.
type tokens struct {
	tok [][tokenMax]byte
	n   []uint8 // 1 to tokenMax
}

func newTokens(n int) *tokens {
	return &tokens{tok: make([][tokenMax]byte, n), n: make([]uint8, n)}
}

// put writes token k at b[pos:], cut short at the end of b, and returns
// the position after it.
func (t *tokens) put(b []byte, pos, k int) int {
	if pos+tokenMax <= len(b) {
		*(*[tokenMax]byte)(b[pos:]) = t.tok[k]
		return pos + int(t.n[k])
	}
	return pos + copy(b[pos:], t.tok[k][:t.n[k]])
}

// wyrand is a small fast PRNG (Wang Yi's wyrand): cheap enough under TCG.
func wyrand(s *uint64) uint64 {
	*s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(*s, *s^0xe7037ed1a0b428db)
	return hi ^ lo
}
