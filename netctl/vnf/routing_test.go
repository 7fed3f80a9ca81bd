package vnf

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/vnf/router"
)

// A vnf asked to be a router whose setup fails still serves; its status
// names the failed step and the log says the router is not up. A vnf not
// asked reports no router.
func TestRouterSetupFailureIsReported(t *testing.T) {
	var logs bytes.Buffer
	cfg := Config{TWAMPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0", StatusAddr: "127.0.0.1:0",
		Router: router.Config{In: "nfh-none0", Out: "nfh-none1"}, Ready: make(lineWriter, 1)}
	v, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	<-cfg.Ready.(lineWriter)
	_, _, st := v.Addrs()
	_, got, err := vnfproto.DecodeStatus(exchange(t, st, vnfproto.AppendRequest(nil, vnfproto.Request{Nonce: 1})))
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Router; r.Flags&(vnfproto.RouterRole|vnfproto.RouterUp) != vnfproto.RouterRole || r.Failed != vnfproto.StepInterfaces {
		t.Errorf("status router %+v, want the role, not up, failed at interfaces", r)
	}
	if !strings.Contains(logs.String(), "ROUTER NOT UP") {
		t.Errorf("log does not say the router is not up:\n%s", logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end")
	}

	plain, err := New(Config{TWAMPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0", StatusAddr: "127.0.0.1:0"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if r := plain.Status().Router; r != (vnfproto.Router{}) {
		t.Errorf("a vnf without --router reports %+v", r)
	}
}
