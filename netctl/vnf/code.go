package vnf

// Shared pages are code-like: tokens of 8 to 32 bytes (an instruction or
// two, a constant) from a table of codeTokens made from the shared seed.
// Code has idioms everywhere and its own in each function: a page draws
// three tokens in four from a run of codeLocal tokens of its own and the
// others from the whole table, favouring some (the AND of three uniform
// indices favours those with few bits set). The table is large (2 MiB) so
// that a compressor with a window of megabytes (zstd) does not find every
// token in it, as it would not in a library's code. It compresses much as
// x86-64 code does: page by page 1.8× with flate's fastest level, 1.9×
// with zstd -1, 1.7× with lz4; as a stream 2.2×, 2.6× and 2×.
const (
	codeTokens = 1 << 16
	codeLocal  = 64
)

// codeBytes are the bytes x86-64 code is full of (REX prefixes, mov, lea,
// call, jcc, ModRM, stack displacements, zeros and ones of immediates).
const codeBytes = "\x00\x00\x00\x00\xff\xff\x48\x48\x89\x8b\x8d\xe8\x0f\x85\x84\x24" +
	"\x44\x4c\x83\xc4\xc3\x5d\x41\x49\x01\x08\x10\x20\x74\x75\xeb\x31"

// newCodeTokens makes the token table of a shared seed: half the bytes
// from codeBytes, the others any byte, four bytes from each random number.
func newCodeTokens(seed uint64) *tokens {
	t := newTokens(codeTokens)
	s := seed ^ 0x2545f4914f6cdd1d
	for i := range t.tok {
		t.n[i] = uint8(8 + wyrand(&s)%(tokenMax-8+1))
		for j := 0; j < tokenMax; j += 4 {
			r := wyrand(&s)
			for h := range 4 {
				x := r >> (16 * h)
				if x&1 == 0 {
					t.tok[i][j+h] = codeBytes[x>>1%uint64(len(codeBytes))]
				} else {
					t.tok[i][j+h] = byte(x >> 8)
				}
			}
		}
	}
	return t
}

// fillCode fills b with code tokens.
func (t *tokens) fillCode(b []byte, seed uint64) {
	local := wyrand(&seed)
	for pos := 0; pos < len(b); {
		r := wyrand(&seed)
		k := r & (r >> 16) & (r >> 32)
		if r>>62 != 0 {
			k = local + r&(codeLocal-1)
		}
		pos = t.put(b, pos, int(k&(codeTokens-1)))
	}
}
