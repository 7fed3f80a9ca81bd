package vm

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

type netnsHandle = netns.NsHandle

// currentNetns opens the network namespace of the calling thread.
func currentNetns() (netns.NsHandle, error) {
	ns, err := netns.Get()
	if err != nil {
		return ns, fmt.Errorf("getting current netns: %w", err)
	}
	return ns, nil
}

// inNetns runs fn on a thread in network namespace ns. Tap devices are
// created in the namespace of the thread that opens /dev/net/tun, so every
// netlink and tun operation goes through here.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("getting current netns: %w", err)
	}
	defer cur.Close()
	if cur.Equal(ns) {
		defer runtime.UnlockOSThread()
		return fn()
	}
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(cur); err != nil {
		// Leave the thread locked: the runtime discards it when this
		// goroutine exits, so no other goroutine runs in the wrong netns.
		return fmt.Errorf("restoring netns: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
