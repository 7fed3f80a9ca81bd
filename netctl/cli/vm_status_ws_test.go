package cli

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestVMStatusWorkingSet(t *testing.T) {
	env, a := statusBed(t)
	r := run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "working set:", "not read (the guest does not run here)") {
		t.Errorf("no working set line without a reader:\n%s", r.stdout)
	}
	a.ws = &api.WorkingSetStatus{Connected: true, Received: 12, Rejected: 2, Seq: 12, Age: 400 * time.Millisecond,
		Ranges: 40, Pages: 17000, HotRanges: 30, HotPages: 16384, Dropped: 1}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "working set:", "17000 pages (66.4 MiB) in 40 ranges, 16384 pages hot; report 12, 400ms old, 12 received (2 rejected, 1 ranges dropped and 0 cut by the check)") {
		t.Errorf("working set line:\n%s", r.stdout)
	}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1", "-o", "json")
	var st api.VMStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.WorkingSet == nil || *st.WorkingSet != *a.ws {
		t.Errorf("json working set %+v, want %+v", st.WorkingSet, a.ws)
	}
	a.ws = &api.WorkingSetStatus{Rejected: 3}
	r = run(t, env, "--host", "hostA", "vm", "status", "fw1")
	if !hasLine(r.stdout, "working set:", "no report yet (port not connected, 3 rejected)") {
		t.Errorf("working set line without a report:\n%s", r.stdout)
	}
}
