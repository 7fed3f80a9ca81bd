package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

func TestAddTCP(t *testing.T) {
	pass := Report{Pass: true, Verdict: "PASS: 0 lost of 100, no gap (replies at most 2.0ms apart)"}
	ok := pass
	ok.AddTCP(TCPCheck{Survived: true, Retransmits: 2, LongestStall: api.Duration(100 * time.Millisecond)})
	if !ok.Pass || !strings.HasSuffix(ok.Verdict, "; TCP survived, 2 retransmits, longest stall 100ms") || ok.TCP == nil {
		t.Errorf("survived: %v %q", ok.Pass, ok.Verdict)
	}
	reset := pass
	reset.AddTCP(TCPCheck{Error: "connection reset by peer"})
	if reset.Pass || reset.Verdict != "FAIL: the TCP flow did not survive (connection reset by peer); 0 lost of 100, no gap (replies at most 2.0ms apart)" {
		t.Errorf("reset after a pass: %v %q", reset.Pass, reset.Verdict)
	}
	failed := Report{Verdict: "FAIL: 3 lost (max 0), largest gap 40ms in switchover"}
	failed.AddTCP(TCPCheck{})
	if failed.Pass || failed.Verdict != "FAIL: the TCP flow did not survive, 3 lost (max 0), largest gap 40ms in switchover" {
		t.Errorf("reset after a failure: %q", failed.Verdict)
	}
}
