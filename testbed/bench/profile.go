package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiling is the bench's --cpu-profile: Go CPU profiles of the agents
// during the nfhandoff moves, for `go tool pprof`.
type profiling struct {
	dir    string        // "": off
	length time.Duration // of each profile, from the migrate request
}

// take starts a CPU profile of each agent, written to
// dir/<name>-<host>.pprof; the returned func waits for them (errors are
// printed: a missing profile does not fail the move).
func (p profiling) take(ctx context.Context, name string, agents ...*agent) (wait func()) {
	var wg sync.WaitGroup
	for _, a := range agents {
		path := filepath.Join(p.dir, name+"-"+a.host.Name+".pprof")
		wg.Go(func() {
			if err := fetchProfile(ctx, a.pprof, p.length, path); err != nil {
				fmt.Fprintf(os.Stderr, "bench: cpu profile of %s's agent: %v\n", a.host.Name, err)
			}
		})
	}
	return wg.Wait
}

// fetchProfile asks the agent serving profiles on sock for a CPU profile of
// length d and writes it to path.
func fetchProfile(ctx context.Context, sock string, d time.Duration, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	url := fmt.Sprintf("http://agent/debug/pprof/profile?seconds=%d", max(1, int(d.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
