//go:build !linux

package verify

// pinSender does nothing on this GOOS.
func pinSender() (unpin func()) { return func() {} }
