package policy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// recorder is a fake Executor that records commands as "cmd args-json".
type recorder struct {
	cmds []string
	err  error
}

func (r *recorder) Execute(_ context.Context, cmd string, args, _ any) error {
	b, _ := json.Marshal(args)
	r.cmds = append(r.cmds, cmd+" "+string(b))
	return r.err
}

func TestApply(t *testing.T) {
	for _, tt := range []struct {
		a    Action
		want string
	}{
		{Action{Kind: KindBandwidth, Bandwidth: 100 << 20}, `migrate-set-parameters {"max-bandwidth":104857600}`},
		{Action{Kind: KindPostcopy}, `migrate-start-postcopy null`},
		{Action{Kind: KindThrottle, Throttle: 30}, `migrate-set-parameters {"cpu-throttle-increment":30,"cpu-throttle-initial":30,"max-cpu-throttle":30,"throttle-trigger-threshold":1}`},
		{Action{Kind: KindThrottle, Throttle: 150}, `migrate-set-parameters {"cpu-throttle-increment":99,"cpu-throttle-initial":99,"max-cpu-throttle":99,"throttle-trigger-threshold":1}`},
		{Action{Kind: KindAbort}, `migrate_cancel null`},
	} {
		var r recorder
		if err := Apply(context.Background(), &r, tt.a); err != nil {
			t.Fatal(err)
		}
		if len(r.cmds) != 1 || r.cmds[0] != tt.want {
			t.Errorf("%s: %q, want %q", tt.a.Kind, r.cmds, tt.want)
		}
	}
	var r recorder
	if err := Apply(context.Background(), &r, Action{Kind: KindNote}); err != nil || len(r.cmds) != 0 {
		t.Errorf("note: %v %q", err, r.cmds)
	}
	if err := Apply(context.Background(), &r, Action{Kind: "reboot"}); err == nil {
		t.Error("unknown kind applied")
	}
	r.err = errors.New("qmp gone")
	if err := Apply(context.Background(), &r, Action{Kind: KindAbort}); err == nil || !strings.Contains(err.Error(), "applying abort: qmp gone") {
		t.Errorf("error %v", err)
	}
}

func TestDecision(t *testing.T) {
	now := time.Unix(100, 0)
	d := Action{Kind: KindBandwidth, Bandwidth: 150 << 20, Reason: "r"}.Decision(now, 4)
	if d.At != now || d.Pass != 4 || d.Action != "bandwidth" || d.Value != "150.0 MiB/s" || d.Reason != "r" {
		t.Errorf("%+v", d)
	}
	if d := (Action{Kind: KindThrottle, Throttle: 30}).Decision(now, 1); d.Value != "30%" {
		t.Errorf("%+v", d)
	}
	if d := (Action{Kind: KindPostcopy}).Decision(now, 1); d.Value != "" {
		t.Errorf("%+v", d)
	}
}
