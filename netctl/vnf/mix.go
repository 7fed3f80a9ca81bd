package vnf

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mix lays the working set out like a real VNF's memory, in MiB per kind of
// page, in this order: Shared, Unique, Text, Zero.
//
//   - Shared pages are alike in every VM with the same shared seed (the
//     operating system and libraries): header included, a page is a pure
//     function of the seed, its index and its generation, so two VMs with the
//     same seed and the same Shared size hold byte-identical shared pages
//     until one of them dirties a page. Code-like: tokens of 8 to 32 bytes
//     from a table made from the seed; compresses about 2-3×.
//   - Unique pages are pseudo-random from the unique seed: incompressible and
//     different in every VM.
//   - Text pages are words from a vocabulary of a few hundred, chosen with the
//     unique seed: compress about 3-4×, different in every VM.
//   - Zero pages are all zero (free memory) and carry no header. The dirtier
//     never writes them, so the mix stays as laid out; the verifier checks
//     that every byte of them is still zero (any other byte is corruption; a
//     zero page has no generation, so it cannot be stale).
//
// The zero value is no mix: the working set is filled as Config.Fill says.
type Mix struct {
	Shared, Unique, Text, Zero int
}

// maxMixMiB bounds a mix (1 TiB), far above any guest, so sizes never
// overflow.
const maxMixMiB = 1 << 20

var mixKinds = [...]string{"shared", "unique", "text", "zero"}

func (m *Mix) sizes() [len(mixKinds)]*int { return [...]*int{&m.Shared, &m.Unique, &m.Text, &m.Zero} }

// Total is the working set the mix lays out, in MiB.
func (m Mix) Total() int { return m.Shared + m.Unique + m.Text + m.Zero }

// IsZero says whether m is no mix.
func (m Mix) IsZero() bool { return m == Mix{} }

// String is the mix as ParseMix reads it: "shared=200:unique=50:text=50:zero=0".
func (m Mix) String() string {
	parts := make([]string, len(mixKinds))
	for i, p := range m.sizes() {
		parts[i] = mixKinds[i] + "=" + strconv.Itoa(*p)
	}
	return strings.Join(parts, ":")
}

// ParseMix parses KIND=MiB items separated by ':' or ',' (the guest's kernel
// command line splits the vnf's arguments at commas, so ':' is the one that
// reaches a guest), e.g. "shared=200:unique=50:text=50". Kinds are shared,
// unique, text and zero, each at most once; a kind left out has none.
func ParseMix(s string) (Mix, error) {
	var m Mix
	if s == "" {
		return m, errors.New("empty mix: want KIND=MiB:..., e.g. shared=200:unique=50:text=50:zero=0")
	}
	seen := [len(mixKinds)]bool{}
	for item := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ':' || r == ',' }) {
		kind, size, ok := strings.Cut(item, "=")
		k := slices.Index(mixKinds[:], kind)
		switch {
		case !ok:
			return Mix{}, fmt.Errorf("mix %q: item %q: want KIND=MiB", s, item)
		case k < 0:
			return Mix{}, fmt.Errorf("mix %q: unknown kind %q (want shared, unique, text or zero)", s, kind)
		case seen[k]:
			return Mix{}, fmt.Errorf("mix %q: %s given twice", s, kind)
		}
		seen[k] = true
		n, err := strconv.Atoi(size)
		if err != nil || n < 0 || n > maxMixMiB {
			return Mix{}, fmt.Errorf("mix %q: %s=%q: want MiB from 0 to %d", s, kind, size, maxMixMiB)
		}
		*m.sizes()[k] = n
	}
	if err := m.validate(); err != nil {
		return Mix{}, fmt.Errorf("mix %q: %w", s, err)
	}
	return m, nil
}

func (m Mix) validate() error {
	for i, p := range m.sizes() {
		if *p < 0 || *p > maxMixMiB {
			return fmt.Errorf("%s=%d: want MiB from 0 to %d", mixKinds[i], *p, maxMixMiB)
		}
	}
	if m.Total() == 0 {
		return errors.New("no pages: the sizes add up to 0 MiB")
	}
	return nil
}
