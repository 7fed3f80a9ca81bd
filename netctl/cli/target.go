package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// DefaultRunDir is where the agents' sockets live unless NFH_RUN_DIR says otherwise.
const DefaultRunDir = "/run/nfhandoff"

const (
	startHint = `start the testbed agents with "testbed/up --agents"`
	upHint    = startHint + `; "netctl hosts" lists the agents that are running`
)

// target is the agent a command talks to.
type target struct {
	name   string // "hostA", or the socket path when given as one
	socket string
	client *api.Client
}

func (g *globals) runDir() string {
	if d := g.env.getenv("NFH_RUN_DIR"); d != "" {
		return d
	}
	return DefaultRunDir
}

// socketFor resolves a --host value: a name is a testbed host whose socket is
// <runDir>/<name>/api.sock; a value containing '/' is a socket path.
func socketFor(runDir, host string) string {
	if strings.Contains(host, "/") {
		return host
	}
	return filepath.Join(runDir, host, "api.sock")
}

// discover lists the host names that have an api.sock under runDir, sorted.
func discover(runDir string) []string {
	paths, _ := filepath.Glob(filepath.Join(runDir, "*", "api.sock"))
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(filepath.Dir(p)))
	}
	sort.Strings(names)
	return names
}

// newTarget returns the agent named by host (a --host value).
func (g *globals) newTarget(host string) *target {
	s := socketFor(g.runDir(), host)
	return &target{name: host, socket: s, client: api.NewClient(s)}
}

// target returns the agent chosen with --host or NFH_HOST, or the only agent
// running when neither is set.
func (g *globals) target() (*target, error) {
	if g.host != "" {
		return g.newTarget(g.host), nil
	}
	found := discover(g.runDir())
	switch len(found) {
	case 1:
		return g.newTarget(found[0]), nil
	case 0:
		return nil, withHint(usageErrorf("no agent chosen and none found under %s: give --host NAME or set NFH_HOST", g.runDir()), "%s", upHint)
	}
	return nil, usageErrorf("no agent chosen: give --host NAME or set NFH_HOST (agents found: %s)", strings.Join(found, ", "))
}

// call runs one request against t with the --timeout limit and explains
// transport failures in terms of what to do about them.
func call[T any](ctx context.Context, g *globals, t *target, fn func(context.Context) (T, error)) (T, error) {
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	v, err := fn(rctx)
	if err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		err = t.explain(err, errors.Is(rctx.Err(), context.DeadlineExceeded), g)
	}
	return v, err
}

func (t *target) explain(err error, timedOut bool, g *globals) error {
	if !errors.Is(err, api.ErrUnavailable) {
		return err
	}
	logHint := "is migratord running for it?"
	if !strings.Contains(t.name, "/") {
		logHint += " its log is " + filepath.Join(filepath.Dir(t.socket), "migratord.log")
	}
	switch {
	case timedOut:
		return withHint(&wrapped{fmt.Sprintf("agent %s did not answer within %v", t.name, g.timeout), err},
			"raise --timeout, or look at why the agent is stuck: %s", logHint)
	case notExist(t.socket) && t.name == t.socket:
		return withHint(&wrapped{fmt.Sprintf("no agent socket at %s: it does not exist", t.socket), err}, "%s", upHint)
	case notExist(t.socket):
		return withHint(&wrapped{fmt.Sprintf("no agent for host %s: %s does not exist", t.name, t.socket), err}, "%s", upHint)
	}
	return withHint(&wrapped{fmt.Sprintf("agent %s is not answering on %s: %s", t.name, t.socket, lastPart(err)), err}, "%s", logHint)
}

func notExist(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// lastPart is the innermost cause of a chain of "a: b: c" messages, such as
// "connection refused".
func lastPart(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// wrapped gives err a clearer message while keeping it for errors.Is.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
