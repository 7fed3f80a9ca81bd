package stream

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// coverage is a Visitor for both channels: which pages of which block
// went by, as PAGE, ZERO or multifd pages.
type coverage struct {
	mu                   sync.Mutex
	seen                 map[string][]bool
	pages, zero, multifd int64
	afterPackaged        int64 // pages after PACKAGED: sent in post-copy
	packaged             bool
	bad                  []string
}

func (c *coverage) Page(p Page) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if (p.Zero && (p.Fill != 0 || p.Data != nil)) || (!p.Zero && len(p.Data) != PageSize) || p.Offset%PageSize != 0 {
		c.bad = append(c.bad, pageKey(p))
	}
	switch {
	case p.Multifd:
		c.multifd++
	case p.Zero:
		c.zero++
	default:
		c.pages++
	}
	if c.packaged {
		c.afterPackaged++
	}
	s := c.seen[p.Block]
	i := int(p.Offset / PageSize)
	for len(s) <= i {
		s = append(s, false)
	}
	s[i] = true
	c.seen[p.Block] = s
}

func (c *coverage) Event(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Kind == EventCommand && e.Cmd == cmdPackaged {
		c.packaged = true
	}
}

// missing counts the pages of blocks never reported.
func (c *coverage) missing(blocks []Block) (n int, where string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blocks {
		s := c.seen[b.Name]
		for i := range int(b.Length / PageSize) {
			if i >= len(s) || !s[i] {
				if n == 0 {
					where = b.Name
				}
				n++
			}
		}
	}
	return n, where
}

type scenario struct {
	postcopy bool
	multifd  int // channels, 0: none
}

func TestIntegrationStreamPrecopy(t *testing.T)  { migrateThrough(t, scenario{}) }
func TestIntegrationStreamPostcopy(t *testing.T) { migrateThrough(t, scenario{postcopy: true}) }
func TestIntegrationStreamMultifd(t *testing.T)  { migrateThrough(t, scenario{multifd: 2}) }

// migrateThrough migrates a real guest from one TCG QEMU to another
// through a proxy that wraps the destination with the readers, and checks
// the destination got exactly the source's bytes, the reader followed all
// of RAM, and the guest runs at the destination.
func migrateThrough(t *testing.T, sc scenario) {
	if testing.Short() {
		t.Skip("migrates a QEMU guest")
	}
	privtest.RequireCommand(t, "qemu-system-x86_64")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "nfh-stream-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first: runs after the QEMUs end

	src := startQEMU(ctx, t, dir, "src", false)
	if err := src.waitConsole(ctx, "nfh-init: eth0 up"); err != nil {
		t.Fatal(err)
	}
	if err := src.echo(ctx); err != nil {
		t.Fatal(err)
	}
	dst := startQEMU(ctx, t, dir, "dst", true)
	caps := map[string]bool{"postcopy-ram": sc.postcopy, "multifd": sc.multifd > 0}
	for _, q := range []*testQEMU{src, dst} {
		q.exec(ctx, t, qmpcmd.MigrateSetCapabilities, qmpcmd.Capabilities(caps), nil)
		if sc.multifd > 0 {
			q.exec(ctx, t, qmpcmd.MigrateSetParameters, qmpcmd.Parameters{MultifdChannels: &sc.multifd}, nil)
		}
	}
	in := filepath.Join(dir, "in.sock")
	dst.exec(ctx, t, qmpcmd.MigrateIncoming, qmpcmd.UnixURI(in), nil)

	cov := &coverage{seen: map[string][]bool{}}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	px := startProxy(t, in, cov, log)
	if sc.postcopy {
		// Slow enough that post-copy starts with most of RAM unsent.
		bw := uint64(16 << 20)
		src.exec(ctx, t, qmpcmd.MigrateSetParameters, qmpcmd.Parameters{MaxBandwidth: &bw}, nil)
	}
	src.exec(ctx, t, qmpcmd.Migrate, qmpcmd.URI{URI: px.uri()}, nil)
	if sc.postcopy {
		waitTransferred(ctx, t, src, 4<<20)
		src.exec(ctx, t, qmpcmd.MigrateStartPostcopy, nil, nil)
	}
	status := waitMigration(ctx, t, src)
	if status.Status != qmpcmd.MigrationCompleted {
		t.Fatalf("migration %s: %s", status.Status, status.ErrorDesc)
	}
	legs := px.wait(t, time.Minute)

	// The guest runs at the destination: its echo server answers there.
	if err := dst.echo(ctx); err != nil {
		t.Fatal(err)
	}
	var st qmpcmd.StatusInfo
	dst.exec(ctx, t, qmpcmd.QueryStatus, nil, &st)
	if st.Status != qmpcmd.RunStateRunning {
		t.Errorf("destination %s", st.Status)
	}

	if want := 1 + sc.multifd; len(legs) != want {
		t.Fatalf("%d connections, want %d", len(legs), want)
	}
	channels := map[int]int{}
	for i, l := range legs {
		sum := l.r.Summary()
		t.Logf("connection %d: %d bytes; summary %+v", i, l.src.n, sum)
		if l.readErr != nil || l.writeErr != nil {
			t.Errorf("connection %d: read %v, write %v", i, l.readErr, l.writeErr)
		}
		if l.src.n == 0 || l.src.n != l.dst.n || !bytes.Equal(l.src.h.Sum(nil), l.dst.h.Sum(nil)) {
			t.Errorf("connection %d: source wrote %d bytes, destination got %d, equal %v",
				i, l.src.n, l.dst.n, bytes.Equal(l.src.h.Sum(nil), l.dst.h.Sum(nil)))
		}
		if sum.Err != nil || sum.Refused != "" || sum.Bytes != l.src.n {
			t.Errorf("connection %d: err %v, refused %q, read %d bytes", i, sum.Err, sum.Refused, sum.Bytes)
		}
		if i > 0 {
			channels[sum.Channel]++
			if sum.Pages == 0 {
				t.Errorf("multifd connection %d: no pages", i)
			}
		}
	}
	// Multifd channels connect in any order, each with its own id.
	for id := range sc.multifd {
		if channels[id] != 1 {
			t.Errorf("multifd channels %v, want each of 0..%d once", channels, sc.multifd-1)
		}
	}
	main := legs[0].r.Summary()
	if !main.RAMDone || len(main.Blocks) == 0 || main.ZeroPages == 0 {
		t.Errorf("main channel: RAM done %v, blocks %v, zero pages %d", main.RAMDone, main.Blocks, main.ZeroPages)
	}
	if sc.postcopy {
		if !main.Postcopy || !main.EOF || main.Opaque != "" ||
			cov.afterPackaged == 0 || cov.afterPackaged == cov.pages+cov.zero {
			t.Errorf("post-copy: PACKAGED seen %v, EOF %v, opaque %q, %d of %d pages after PACKAGED",
				main.Postcopy, main.EOF, main.Opaque, cov.afterPackaged, cov.pages+cov.zero)
		}
	} else if !strings.HasPrefix(main.Opaque, "device state from section") || main.Postcopy {
		t.Errorf("pre-copy: opaque %q, post-copy %v", main.Opaque, main.Postcopy)
	}
	var ram uint64
	for _, b := range main.Blocks {
		ram += b.Length
	}
	if n, where := cov.missing(main.Blocks); n > 0 {
		t.Errorf("%d pages never reported (first in %s)", n, where)
	}
	if len(cov.bad) > 0 {
		t.Errorf("odd pages: %q", cov.bad[:min(5, len(cov.bad))])
	}
	t.Logf("RAM %d MiB in %d blocks: %d pages, %d zero pages, %d multifd pages; %d after PACKAGED",
		ram>>20, len(main.Blocks), cov.pages, cov.zero, cov.multifd, cov.afterPackaged)
}

// waitTransferred waits until the source has sent n bytes of RAM.
func waitTransferred(ctx context.Context, t *testing.T, q *testQEMU, n int64) {
	t.Helper()
	for {
		var info struct {
			Status string `json:"status"`
			RAM    struct {
				Transferred int64 `json:"transferred"`
			} `json:"ram"`
		}
		q.exec(ctx, t, qmpcmd.QueryMigrate, nil, &info)
		if info.RAM.Transferred >= n {
			return
		}
		if info.Status != "setup" && info.Status != qmpcmd.MigrationActive {
			t.Fatalf("migration %s before %d bytes went", info.Status, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMigration waits for the source's migration to end.
func waitMigration(ctx context.Context, t *testing.T, q *testQEMU) qmpcmd.MigrateInfo {
	t.Helper()
	for {
		var info qmpcmd.MigrateInfo
		q.exec(ctx, t, qmpcmd.QueryMigrate, nil, &info)
		switch info.Status {
		case qmpcmd.MigrationCompleted, qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
			return info
		}
		select {
		case <-ctx.Done():
			t.Fatalf("migration still %s", info.Status)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// testWriter sends the readers' logs to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
