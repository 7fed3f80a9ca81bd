package cli

import (
	"testing"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestHealth(t *testing.T) {
	env, _ := testbed(t, "hostA", "hostB")
	r := run(t, env, "--host", "hostB", "health")
	check(t, r, 0)
	for _, kv := range [][2]string{{"host:", "hostB"}, {"version:", "test-1"}, {"accel:", "tcg"}, {"vms:", "0"}, {"socket:", "hostB/api.sock"}} {
		if !hasLine(r.stdout, kv[0], kv[1]) {
			t.Errorf("no line %q ... %q", kv[0], kv[1])
		}
	}
	r = run(t, env, "--host", "hostA", "health", "-o", "json")
	var h api.Health
	decodeOne(t, r.stdout, &h)
	if h.Host != "hostA" || h.Accel != "tcg" {
		t.Errorf("json health %+v", h)
	}
}
