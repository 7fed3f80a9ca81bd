package pagecode

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// newZstdDecoder decodes single pages: a frame claiming more is refused
// before it allocates.
func newZstdDecoder() (*zstd.Decoder, error) {
	z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<20),
		zstd.WithDecoderMaxWindow(1<<20), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return z, nil
}
