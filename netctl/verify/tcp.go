package verify

import (
	"fmt"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// TCPCheck is a TCP flow's account across the migration (netctl migrate
// --verify-tcp: iperf3 from the sender's namespace to a server at the
// target, through the VNF): did the connection survive, what did it
// retransmit, how long did it stall.
type TCPCheck struct {
	Target       string       `json:"target"` // the server, address:port
	Bytes        uint64       `json:"bytes"`
	Seconds      float64      `json:"seconds"`
	Retransmits  uint64       `json:"retransmits"`
	LongestStall api.Duration `json:"longest_stall"` // the longest run of report intervals that moved no byte
	Survived     bool         `json:"survived"`
	Error        string       `json:"error,omitempty"` // iperf3's, e.g. a reset
}

// AddTCP records c in the report: a flow that did not survive fails the
// verdict; one that did is named in it.
func (r *Report) AddTCP(c TCPCheck) {
	r.TCP = &c
	if c.Survived {
		if r.Pass {
			r.Verdict += fmt.Sprintf("; TCP survived, %d retransmits, longest stall %s", c.Retransmits, fmtMS(c.LongestStall))
		}
		return
	}
	why := "the TCP flow did not survive"
	if c.Error != "" {
		why += " (" + c.Error + ")"
	}
	if r.Pass {
		r.Pass = false
		r.Verdict = "FAIL: " + why + "; " + strings.TrimPrefix(r.Verdict, "PASS: ")
		return
	}
	r.Verdict = strings.Replace(r.Verdict, "FAIL: ", "FAIL: "+why+", ", 1)
}
