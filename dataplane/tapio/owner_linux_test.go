package tapio

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
	"golang.org/x/sys/unix"
)

// tapOwnerChild, set in the environment, makes TestPrivTapFileOf run its
// part in a fresh network namespace of its own process.
const tapOwnerChild = "NFHANDOFF_TAPIO_TAPFILEOF_CHILD"

// TestPrivTapFileOf borrows the tap of another process, as the agent
// borrows a libvirt guest's from its QEMU. TapFileOf looks for owners in
// the network namespace of the process (/proc/self/ns/net: its first
// thread's), as migratord runs, so the test runs its part in a child
// process made in a fresh namespace, not on a thread moved into one
// (privtest.EnterNetns). This process keeps a tap of the same name in
// another namespace open meanwhile: TapFileOf must not take that one.
func TestPrivTapFileOf(t *testing.T) {
	if os.Getenv(tapOwnerChild) != "" {
		tapFileOfChild(t)
		return
	}
	ioEnterNetns(t)
	privtest.OpenTap(t, "dptown0", true) // same name, another namespace, held by this process
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrivTapFileOf$", "-test.count=1", "-test.v", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), tapOwnerChild+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestPrivTapFileOf")) {
		t.Fatalf("child in a fresh network namespace: %v\n%s", err, out)
	}
	t.Logf("child in a fresh network namespace:\n%s", out)
}

// tapFileOfChild is TestPrivTapFileOf's part in its own network
// namespace: a "QEMU" (sleep) holds a tap nobody else has open.
func tapFileOfChild(t *testing.T) {
	const name = "dptown0"
	tap, err := openVnetTap(name)
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("sleep", "60")
	holder.ExtraFiles = []*os.File{tap} // its fd 3
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil { // returns once sleep runs, with the tap
		tap.Close()
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			holder.Process.Kill()
			holder.Wait()
		}
	})
	tap.Close()
	if _, err := net.InterfaceByName(name); err != nil {
		t.Fatalf("the tap without this process's descriptor: %v (the holder should keep it)", err)
	}

	f, pid, err := TapFileOf(name)
	if err != nil {
		t.Fatalf("TapFileOf(%s): %v", name, err)
	}
	defer f.Close()
	if pid != holder.Process.Pid {
		t.Errorf("TapFileOf(%s) found pid %d, want the holder's %d", name, pid, holder.Process.Pid)
	}
	got, flags, err := tunIff(f)
	if err != nil {
		t.Fatalf("TUNGETIFF on the borrowed descriptor: %v", err)
	}
	if want := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR); got != name || flags&want != want {
		t.Errorf("borrowed descriptor is tap %q flags %#x, want %s with %#x (this namespace's, not the parent's)", got, flags, name, want)
	}
	// The same open file: its flags are the holder's (non-blocking), and
	// ReadResidue takes it as it is.
	if fdFlags(t, f)&unix.O_NONBLOCK == 0 {
		t.Error("borrowed descriptor is blocking: not the holder's open file")
	}
	if frames, _, err := ReadResidue(f, 10); err != nil {
		t.Errorf("ReadResidue on the borrowed descriptor: %d frames, %v", len(frames), err)
	}

	if _, _, err := TapFileOf("dptnone0"); !errors.Is(err, ErrNoTapOwner) {
		t.Errorf("TapFileOf of a tap nobody has: %v, want ErrNoTapOwner", err)
	}

	// The borrowed descriptor keeps the tap after its holder ended.
	holder.Process.Kill()
	holder.Wait()
	exited = true
	if _, err := net.InterfaceByName(name); err != nil {
		t.Fatalf("the tap after its holder ended, the borrowed descriptor open: %v", err)
	}
	// This process's own descriptors do not count as an owner.
	if _, _, err := TapFileOf(name); !errors.Is(err, ErrNoTapOwner) {
		t.Errorf("TapFileOf with only this process holding the tap: %v, want ErrNoTapOwner", err)
	}
	f.Close()
	if _, err := net.InterfaceByName(name); err == nil {
		t.Error("the tap outlived its last descriptor")
	}
}
