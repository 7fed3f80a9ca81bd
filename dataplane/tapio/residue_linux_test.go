package tapio

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/dataplane/frame"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
	"golang.org/x/sys/unix"
)

func fdFlags(t *testing.T, f *os.File) int {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fl int
	var ferr error
	rc.Control(func(fd uintptr) { fl, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if ferr != nil {
		t.Fatal(ferr)
	}
	return fl
}

// dupFile is a second descriptor on f's file description, like migratord's
// duplicate of QEMU's tap fd.
func dupFile(t *testing.T, f *os.File) *os.File {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nfd int
	var derr error
	rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	if derr != nil {
		t.Fatal(derr)
	}
	d := os.NewFile(uintptr(nfd), "dup")
	t.Cleanup(func() { d.Close() })
	return d
}

func TestPrivReadResidue(t *testing.T) {
	ioEnterNetns(t)
	qemu := ioTap(t, "dptio0", 100) // the descriptor "QEMU" reads, not reading now
	mine := dupFile(t, qemu)
	in, err := NewInjector("dptio0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx := context.Background()
	for i := range 10 {
		if i == 3 || i == 7 {
			if err := in.Inject(ctx, frame.Probe(ioVMMAC)); err != nil {
				t.Fatal(err)
			}
		}
		if err := in.Inject(ctx, ioFrame(ioVMMAC, uint32(i), 60+100*i)); err != nil {
			t.Fatal(err)
		}
	}
	base, _ := DevStats("dptio0")

	frames, probes, err := ReadResidue(mine, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 4 || probes != 1 {
		t.Fatalf("max 4: %d frames, %d probes; want 4, 1", len(frames), probes)
	}
	rest, probes2, err := ReadResidue(mine, 100)
	if err != nil {
		t.Fatal(err)
	}
	frames = append(frames, rest...)
	if len(frames) != 10 || probes+probes2 != 2 {
		t.Fatalf("%d frames, %d probes; want 10, 2", len(frames), probes+probes2)
	}
	for i, f := range frames {
		if s, ok := ioSeq(f); !ok || s != uint32(i) || len(f) != 60+100*i {
			t.Fatalf("frame %d: seq %d (%v), %d bytes", i, s, ok, len(f))
		}
	}
	dc, _ := DevStats("dptio0")
	if d := dc.TxPackets - base.TxPackets; d != 12 {
		t.Errorf("tx_packets +%d, want +12 (every frame read counts)", d)
	}

	// Empty: returns at once, nothing read, and both descriptors stay non-blocking.
	frames, probes, err = ReadResidue(mine, 100)
	if err != nil || len(frames) != 0 || probes != 0 {
		t.Errorf("empty tap: %d frames, %d probes, %v", len(frames), probes, err)
	}
	if fdFlags(t, qemu)&unix.O_NONBLOCK == 0 || fdFlags(t, mine)&unix.O_NONBLOCK == 0 {
		t.Error("descriptor no longer non-blocking")
	}
	// The shared description is still readable by "QEMU" afterwards.
	if err := in.Inject(ctx, ioFrame(ioVMMAC, 99, 60)); err != nil {
		t.Fatal(err)
	}
	if f, ok := ioReadTap(t, qemu, 2*time.Second); !ok {
		t.Error("QEMU's descriptor reads nothing after ReadResidue")
	} else if s, _ := ioSeq(f); s != 99 {
		t.Errorf("QEMU read %d, want 99", s)
	}
}

// A blocking descriptor is refused, not read (a read could block) and not
// changed (the description is QEMU's).
func TestPrivReadResidueRefusesBlocking(t *testing.T) {
	ioEnterNetns(t)
	f := privtest.OpenTap(t, "dptio1", false)
	done := make(chan error, 1)
	go func() {
		_, _, err := ReadResidue(f, 10)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("ReadResidue accepted a blocking descriptor")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadResidue blocked on a blocking descriptor")
	}
	if fdFlags(t, f)&unix.O_NONBLOCK != 0 {
		t.Error("ReadResidue changed the descriptor's flags")
	}
}

func TestReadResidueNotATap(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, _, err := ReadResidue(r, 10); err == nil {
		t.Error("ReadResidue read a pipe")
	}
}
