package privtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// uniqueName is a netns name no other test process uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%08x", prefix, os.Getpid(), rand.Uint32())
}

// EnterNetns locks the test's goroutine to its thread and moves it into a
// fresh named network namespace (prefix-<pid>-<random>, lo up) until the
// test ends; it returns the name (for `ip -n`). Every socket, tap and link
// the test creates on that goroutine lives there; other goroutines only use
// descriptors. Subtests run on other goroutines: they are not in it. It
// requires root (RequireRoot).
func EnterNetns(tb testing.TB, prefix string) string {
	tb.Helper()
	RequireRoot(tb)
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		tb.Fatal(err)
	}
	name := uniqueName(prefix)
	ns, err := netns.NewNamed(name) // also enters it
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		tb.Fatalf("creating netns %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			tb.Errorf("restoring netns: %v", err) // the thread stays locked and dies with the goroutine
		} else {
			runtime.UnlockOSThread()
		}
		ns.Close()
		orig.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("deleting netns %s: %v", name, err)
		}
	})
	if err := loUp(); err != nil {
		tb.Fatalf("netns %s: %v", name, err)
	}
	return name
}

func loUp() error {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

// NetNS is a fresh named network namespace (lo up) with one OS thread of
// its own inside it: Do runs functions there, while the test's goroutine
// stays where it was. It goes when the test ends.
type NetNS struct {
	name  string
	calls chan func()
	done  chan struct{}
}

// NewNetNS makes a NetNS named prefix-<pid>-<random>. It requires root.
func NewNetNS(tb testing.TB, prefix string) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	n := &NetNS{name: uniqueName(prefix), calls: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(n.done)
		// The thread never unlocks: it leaves the netns by exiting with the goroutine.
		runtime.LockOSThread()
		ns, err := netns.NewNamed(n.name)
		if err == nil {
			defer netns.DeleteNamed(n.name)
			defer ns.Close()
			err = loUp()
		}
		ready <- err
		if err != nil {
			return
		}
		for f := range n.calls {
			f()
		}
	}()
	if err := <-ready; err != nil {
		<-n.done
		tb.Fatalf("creating netns %s: %v", n.name, err)
	}
	tb.Cleanup(func() {
		close(n.calls)
		<-n.done
	})
	return n
}

// Name is the namespace's name (for `ip -n` and netns.GetFromName).
func (n *NetNS) Name() string { return n.name }

// Do runs f on the namespace's thread and waits for it. f must not call
// tb.Fatal (it does not run on the test's goroutine): return errors out.
func (n *NetNS) Do(f func()) {
	done := make(chan struct{})
	n.calls <- func() { defer close(done); f() }
	<-done
}
