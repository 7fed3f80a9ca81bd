package vm

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// answersOOB checks that o reaches QEMU's monitor thread: migrate-pause,
// out of band, is refused by QEMU itself (no post-copy here).
func answersOOB(t *testing.T, ctx context.Context, o *qmpx.OOB, who string) {
	t.Helper()
	err := o.Exec(ctx, "migrate-pause", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "postcopy-active") {
		t.Fatalf("%s: migrate-pause out of band: %v, want QEMU's refusal", who, err)
	}
}

// TestIntegrationOOBKept: the out-of-band QMP connection outlives the
// agent that opened it (QEMU keeps its client end), a successor takes it
// back and adopts the guest even while QMP's handshake cannot run (here:
// another client holds the main QMP socket, as QEMU's blocked main thread
// would never answer), and Release lets QEMU take a new one.
func TestIntegrationOOBKept(t *testing.T) {
	if testing.Short() {
		t.Skip("starts QEMU")
	}
	l, cfg := realLauncher(t, imageDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := testSpec("oobk")
	spec.MemoryMiB = 256
	inst, err := l.StartIncoming(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop(context.Background())
	rec := inst.Record()
	o, err := inst.DialOOB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answersOOB(t, ctx, o, "first run")
	keep := filepath.Join(cfg.StateDir, "vms", spec.Name, oobKeepFile)
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("no record of the kept connection: %v", err)
	}
	o.Close() // the agent dies: QEMU's copy keeps the connection
	if err := inst.Detach(); err != nil {
		t.Fatal(err)
	}

	// Someone else on the main QMP socket: the successor's handshake
	// cannot complete, as on a destination whose main thread waits.
	var d net.Dialer
	squatter, err := d.DialContext(ctx, "unix", rec.QMPSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	l2, err := NewLauncher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ad, err := l2.Adopt(ctx, rec)
	if err != nil {
		t.Fatalf("adopt while qmp does not answer: %v", err)
	}
	defer ad.Stop(context.Background())
	o2, err := ad.DialOOB(ctx)
	if err != nil {
		t.Fatalf("taking the kept connection back: %v", err)
	}
	answersOOB(t, ctx, o2, "successor")
	qctx, qcancel := context.WithTimeout(ctx, time.Second)
	_, err = ad.QueryStatus(qctx)
	qcancel()
	if err == nil {
		t.Fatal("query-status answered while another client holds the socket")
	}
	squatter.Close() // QEMU takes the next client: the adopted monitor
	if st, err := ad.QueryStatus(ctx); err != nil || st != "inmigrate" {
		t.Fatalf("status once qmp connects: %q, %v", st, err)
	}

	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	err = o2.Release(rctx)
	rcancel()
	if err != nil {
		t.Fatalf("release: %v", err)
	}
	if fd, err := keptOOBFD(ad.p, rec.PID); fd >= 0 || err != nil {
		t.Fatalf("qemu still keeps the connection (fd %d, %v)", fd, err)
	}
	o3, err := ad.DialOOB(ctx) // a new one: QEMU took a new client
	if err != nil {
		t.Fatalf("dialing after release: %v", err)
	}
	answersOOB(t, ctx, o3, "after release")
	if err := o3.Release(ctx); err != nil {
		t.Errorf("second release: %v", err)
	}
}
