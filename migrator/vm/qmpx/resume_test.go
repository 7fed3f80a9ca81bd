package qmpx

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// A taken-over connection skips what its previous owner left half read and
// the replies to that owner's requests, and works on.
func TestResumeOOB(t *testing.T) {
	ours, qemu := net.Pipe()
	defer qemu.Close()
	o := ResumeOOB(ours, "nfh-oob")
	defer o.Close()
	if !o.Kept() {
		t.Error("a resumed connection is kept")
	}
	go func() {
		// The rest of a line the dead agent had begun to read, a reply to
		// one of its requests, an event, then the answer to ours.
		fmt.Fprint(qemu, `"microseconds": 12}}`+"\r\n")
		fmt.Fprint(qemu, `{"id": "nfh1-1", "error": {"class": "GenericError", "desc": "not yours"}}`+"\r\n")
		fmt.Fprint(qemu, `{"event": "MIGRATION", "data": {"status": "postcopy-paused"}, "timestamp": {"seconds": 1, "microseconds": 2}}`+"\r\n")
		r := bufio.NewReader(qemu)
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req struct {
			ID  string `json:"id"`
			Cmd string `json:"exec-oob"`
		}
		json.Unmarshal(line, &req)
		fmt.Fprintf(qemu, `{"id": %q, "return": {}}`+"\r\n", req.ID)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := o.Exec(ctx, "migrate-recover", map[string]string{"uri": "unix:/x"}, nil); err != nil {
		t.Fatalf("exec on the taken-over connection: %v", err)
	}
	select {
	case e := <-o.Events():
		if e.Name != "MIGRATION" || e.Data["status"] != "postcopy-paused" {
			t.Errorf("event %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
	if o.prefix != fmt.Sprintf("nfh%d-", os.Getpid()) {
		t.Errorf("request ids %q do not carry the pid", o.prefix)
	}
}
