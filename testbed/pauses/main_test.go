package main

import (
	"strings"
	"testing"
)

func TestTally(t *testing.T) {
	in := `{"test":"TestA","id":"hostA-1","vm":"fw1","postcopy":false,"paused":"30ms","target":"50ms"}
{"test":"TestA","id":"hostB-1","vm":"fw1","postcopy":false,"paused":"50ms","target":"50ms"}
{"test":"TestP","id":"hostA-2","vm":"fw1","postcopy":true,"paused":"90ms","target":"50ms","parts":"destination 74ms"}
{"test":"TestD","id":"hostA-3","vm":"fw1","postcopy":false,"paused":"60ms"}
{"test":"TestS","id":"hostB-2","vm":"fw1","postcopy":false,"paused":"1.516s","target":"50ms","held":"1.5s"}
`
	var out strings.Builder
	if err := tally(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"2 of 4 (50.0%) of the integration tests' completed moves (pre-copy 2 of 3 (66.7%), post-copy 0 of 1 (0.0%))",
		"over: TestP hostA-2 (post-copy) paused 90ms, target 50ms: destination 74ms",
		"over: TestD hostA-3 (pre-copy) paused 60ms, target 50ms", // no target: the default
		"not counted: 1 moves whose guest a test held stopped",
		"held: TestS hostB-2 (pre-copy) paused 1.516s, 1.5s of it held",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if err := tally(strings.NewReader("{not json\n"), &out); err == nil {
		t.Error("a malformed line: no error")
	}
}
