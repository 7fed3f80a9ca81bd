package wswatch

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A guest sending nothing but bad reports is logged once per LogEvery.
func TestWatcherLogsRejectionsRarely(t *testing.T) {
	sock, conns := serve(t)
	var logs syncBuf
	w := Start(context.Background(), Config{Socket: sock, RAMBytes: ram, MinInterval: time.Microsecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Cleanup(w.Stop)
	c := <-conns
	bad := enc(t, wsreport.Report{Seq: 1})
	bad[4] = 0xff // version
	c.Write(bytes.Repeat(bad, 200))
	wait(t, w, "rejections", func(l Latest) bool { return l.Rejected >= 200 }) // each also leaves a run of garbage
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Errorf("%d log lines for 200 rejections, want 1:\n%s", n, logs.String())
	}
}
