package agent

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/handoff"
	"github.com/nfhandoff/nfhandoff/migrator/wsreport"
)

// wsRuntime gives the fake's guests a working-set port at sock.
type wsRuntime struct {
	*fakeRuntime
	sock string
}

type wsInstance struct {
	Instance
	sock string
}

func (i wsInstance) WSSocket() string { return i.sock }

func (r wsRuntime) Start(ctx context.Context, spec api.VMSpec, onTap handoff.TapHook) (Instance, error) {
	inst, err := r.fakeRuntime.Start(ctx, spec, onTap)
	if err != nil {
		return nil, err
	}
	return wsInstance{inst, r.sock}, nil
}

// The agent reads a running guest's reports from its port, shows the
// latest in the VM's status and WorkingSet, counts garbage, and lets go
// of the port when the VM stops.
func TestWorkingSetReports(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ws.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := newHarnessWith(t, func(c *Config) { c.Runtime = wsRuntime{c.Runtime.(*fakeRuntime), sock} })
	ctx := ctxT(t)
	if _, err := h.client.StartVM(ctx, spec("vm1", 1)); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := readRequest(t, conn)
	// A migration's start lets go of the port only with a fresh report:
	// none yet, so it keeps asking (for the post-copy's prefetch).
	h.agent.quietReports("vm1")(ctx, false)
	r := wsreport.Report{Seq: uint64(id), Hot: 1, Ranges: []wsreport.Range{{Start: 1000, Count: 256}, {Start: 10, Count: 4}, {Start: 1 << 40, Count: 1}}}
	b, _ := wsreport.Encode(nil, r)
	conn.Write(append([]byte("noise"), b...))

	var st api.VMStatus
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st, err = h.client.VMStatus(ctx, "vm1"); err != nil {
			t.Fatal(err)
		}
		if ws := st.WorkingSet; ws != nil && ws.Seq == uint64(id) || time.Now().After(deadline) {
			break
		}
	}
	want := api.WorkingSetStatus{Connected: true, Asked: 1, Received: 1, Rejected: 1, Seq: uint64(id), Ranges: 2, Pages: 260,
		HotRanges: 1, HotPages: 256, Dropped: 1}
	if ws := st.WorkingSet; ws == nil || ws.Age <= 0 || ws.Age > 5*time.Second {
		t.Fatalf("working set %+v: want a fresh report", ws)
	} else if ws.Age, ws.Asked = 0, min(ws.Asked, 1); *ws != want { // a slow run asks again
		t.Errorf("working set %+v\nwant %+v", *ws, want)
	}
	c, age, ok := h.agent.WorkingSet("vm1")
	if !ok || c.Pages != 260 || age <= 0 {
		t.Errorf("WorkingSet: %+v %v %v", c, age, ok)
	}
	if _, _, ok := h.agent.WorkingSet("nope"); ok {
		t.Error("a working set for no VM")
	}

	// A migration quiets the port before it stops the guest; the report
	// stays; a migration that leaves the guest here takes it again.
	h.agent.quietReports("vm1")(ctx, true)
	if err := drained(conn); err != io.EOF {
		t.Errorf("port still held when quiet: %v", err)
	}
	if _, _, ok := h.agent.WorkingSet("vm1"); !ok {
		t.Error("the report lost when quiet")
	}
	h.agent.startReports("vm1")
	if conn, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	readRequest(t, conn)

	if _, err := h.client.StopVM(ctx, "vm1"); err != nil {
		t.Fatal(err)
	}
	if err := drained(conn); err != io.EOF {
		t.Errorf("port still read after the stop: %v", err)
	}
	if _, _, ok := h.agent.WorkingSet("vm1"); ok {
		t.Error("a working set after the stop")
	}
}

// readRequest reads one request from the agent and returns its id.
func readRequest(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, wsreport.RequestLen)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	id, ok, _ := wsreport.LastRequest(b)
	if !ok {
		t.Fatalf("not a request: %q", b)
	}
	return id
}

// drained reads c until it fails (within 5 s) and returns the error.
func drained(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return io.EOF
	}
	return err
}
