//go:build !linux

package tapio

import (
	"fmt"
	"os"
)

// ReadResidue is not implemented on this GOOS.
func ReadResidue(f *os.File, max int) (frames [][]byte, probes int, err error) {
	return nil, 0, fmt.Errorf("residue: %w", errNotLinux)
}
