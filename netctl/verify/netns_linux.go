package verify

import (
	"errors"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// dialIn opens a UDP socket connected to dst, inside the named network
// namespace when ns is not empty. The socket stays in that namespace.
func dialIn(ns string, dst *net.UDPAddr) (*net.UDPConn, error) {
	if ns == "" {
		return net.DialUDP("udp", nil, dst)
	}
	type result struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan result, 1)
	// A thread whose namespace cannot be restored stays locked and dies
	// with its goroutine.
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("current netns: %w", err)}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("netns %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering netns %s: %w", ns, err)}
			return
		}
		c, err := net.DialUDP("udp", nil, dst)
		if rerr := netns.Set(orig); rerr != nil {
			if c != nil {
				c.Close()
			}
			ch <- result{err: errors.Join(err, fmt.Errorf("leaving netns %s: %w", ns, rerr))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
