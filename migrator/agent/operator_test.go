package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/engine"
	"github.com/nfhandoff/nfhandoff/migrator/session"
)

// operatorEngine is a session.Engine (and OperatorEngine) whose sockets
// live in a temporary directory and whose outgoing guest is fixed.
type operatorEngine struct {
	dir      string
	outgoing string
	asked    atomic.Int32
}

func (e *operatorEngine) URI() string { return "qemu+tls://hostA/system" }
func (e *operatorEngine) Socket(id string) (string, string, error) {
	p := filepath.Join(e.dir, id+".sock")
	return p, p, nil
}
func (e *operatorEngine) Migrate(context.Context, engine.Migration) error {
	return errors.New("not used")
}
func (e *operatorEngine) Arrival(context.Context, string) (<-chan struct{}, func(), error) {
	return nil, nil, errors.New("not used")
}
func (e *operatorEngine) Resume(context.Context, string) error { return errors.New("not used") }
func (e *operatorEngine) Follow(context.Context, engine.Migration) error {
	return errors.New("not used")
}
func (e *operatorEngine) Outgoing(context.Context) (string, error) {
	e.asked.Add(1)
	return e.outgoing, nil
}

// TestOperatorSocketRefusesUnknownGuest: an agent with an engine serves a
// standing socket per peer of its peers file (not for itself); a
// connection there for a guest the agent does not know as a foreign one
// is refused: the engine's stream is cut (EOF), so the operator's
// migration fails and the guest stays.
func TestOperatorSocketRefusesUnknownGuest(t *testing.T) {
	dir, err := os.MkdirTemp("", "op") // short: a UNIX socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	peers := filepath.Join(dir, "peers")
	if err := os.WriteFile(peers, []byte("hostA 127.0.0.1:7443\nhostB 127.0.0.1:7444\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng := &operatorEngine{dir: dir, outgoing: "nosuch"}
	newHarnessWith(t, func(c *Config) {
		c.Engine, c.Peers, c.Foreign = eng, peers, newFakeForeign()
		c.Dial = func(context.Context, string) (session.Conn, error) { return nil, errors.New("no peers here") }
	})
	_, path, _ := eng.Socket(session.PeerSocketName("hostB"))
	var c net.Conn
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("standing socket for hostB: %v", err)
	}
	defer c.Close()
	if _, err := os.Stat(filepath.Join(dir, session.PeerSocketName("hostA")+".sock")); err == nil {
		t.Errorf("a standing socket for the agent's own host")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read %d, %v: want the connection closed (EOF)", n, err)
	}
	if eng.asked.Load() == 0 {
		t.Errorf("the engine was not asked which guest is migrating out")
	}
}
