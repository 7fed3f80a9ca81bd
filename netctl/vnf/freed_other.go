//go:build !linux

package vnf

import "errors"

// writeAndFree is Linux's only.
func writeAndFree(mb int) error {
	if mb == 0 {
		return nil
	}
	return errors.New("writing and freeing memory needs Linux")
}
