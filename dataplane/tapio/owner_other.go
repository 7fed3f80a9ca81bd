//go:build !linux

package tapio

import (
	"errors"
	"fmt"
	"os"
)

// ErrNoTapOwner: no process in this network namespace has the tap open.
var ErrNoTapOwner = errors.New("no process here has the tap open")

// TapFileOf is not implemented on this GOOS.
func TapFileOf(name string) (*os.File, int, error) {
	return nil, 0, fmt.Errorf("tap %s: %w", name, errNotLinux)
}
