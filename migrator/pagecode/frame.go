package pagecode

import (
	"errors"

	"github.com/nfhandoff/nfhandoff/migrator/stream"
)

// PageSize is the size of a coded page.
const PageSize = stream.PageSize

// Frame kinds.
const (
	kindRaw   byte = 1
	kindLit   byte = 2
	kindRef   byte = 4
	kindDelta byte = 5
	kindEnd   byte = 6
)

const (
	magic   = "NFPC"
	version = 1
	// maxRaw bounds a raw frame: the encoder cuts longer runs.
	maxRaw = 256 << 10
	// maxDelta bounds a delta: larger ones go literal.
	maxDelta = PageSize

	// frameHead is the most a page frame spends besides its payload:
	// kind, two slots, the name and a length.
	frameHead = 1 + 2*5 + len(Name{}) + 3
)

// Store sizes.
const (
	// DefaultStoreBytes is each end's content store per migration (per
	// gang): 256 MiB holds the shared content of a host of guests made
	// from one image, and is small beside the memory they move.
	DefaultStoreBytes = 256 << 20
	// MaxStoreSlots is the most a destination accepts (4 GiB).
	MaxStoreSlots = 1 << 20
)

var (
	// ErrMalformed is wrapped by every error about a coded stream that
	// breaks the format.
	ErrMalformed = errors.New("malformed coded stream")
	// ErrMismatch is wrapped when a rebuilt page's content does not have
	// the name the source gave it.
	ErrMismatch = errors.New("page does not match its name")
)
