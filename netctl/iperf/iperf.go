// Package iperf runs Debian's iperf3 (client and one-off server, each in a
// network namespace) and reads its JSON reports: bytes, retransmits, the
// longest stall and whether the connection survived. It checks TCP through
// a VNF across a migration with the client an operator would use.
package iperf

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by every Parse error: iperf3's output was not a
// report this package understands.
var ErrMalformed = errors.New("malformed iperf3 report")

// Result is one end's account of an iperf3 test.
type Result struct {
	// Conn is the test's data connection as this end saw it: at a server
	// behind a NAT, Remote is the translated address and port.
	Conn Conn `json:"conn"`
	// Seconds and Bytes are the test's length and the bytes this end sent
	// (client) or received (server).
	Seconds float64 `json:"seconds"`
	Bytes   uint64  `json:"bytes"`
	// Retransmits is the sender's TCP retransmissions (client only).
	Retransmits uint64 `json:"retransmits"`
	// LongestStall is the longest run of report intervals in which no byte
	// moved: the outage TCP felt, to the interval's resolution.
	LongestStall time.Duration `json:"longest_stall"`
	// Intervals is how many report intervals there were.
	Intervals int `json:"intervals"`
	// Error is iperf3's own error ("" when the test completed), e.g. a
	// connection reset.
	Error string `json:"error,omitempty"`
}

// Conn is a TCP connection's two ends.
type Conn struct {
	LocalHost  string `json:"local_host"`
	LocalPort  int    `json:"local_port"`
	RemoteHost string `json:"remote_host"`
	RemotePort int    `json:"remote_port"`
}

func (c Conn) String() string {
	return fmt.Sprintf("%s:%d-%s:%d", c.LocalHost, c.LocalPort, c.RemoteHost, c.RemotePort)
}

// Survived reports whether the test ran to its end without an error.
func (r Result) Survived() bool { return r.Error == "" && r.Intervals > 0 }

// report is the part of iperf3's --json output this package reads.
type report struct {
	Start struct {
		Connected []Conn `json:"connected"`
	} `json:"start"`
	Intervals []struct {
		Sum interval `json:"sum"`
	} `json:"intervals"`
	End struct {
		SumSent     *interval `json:"sum_sent"`
		SumReceived *interval `json:"sum_received"`
		Sum         *interval `json:"sum"`
	} `json:"end"`
	Error string `json:"error"`
}

type interval struct {
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	Seconds     float64 `json:"seconds"`
	Bytes       uint64  `json:"bytes"`
	Retransmits uint64  `json:"retransmits"`
	Sender      bool    `json:"sender"`
}

// maxIntervals bounds what Parse accepts (a day at 0.1 s).
const maxIntervals = 864000

// Parse reads one iperf3 --json report; sender says whose account to take
// from its end section (the client's sum_sent, the server's
// sum_received).
func Parse(b []byte, sender bool) (Result, error) {
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rep.Intervals) > maxIntervals {
		return Result{}, fmt.Errorf("%w: %d intervals, at most %d", ErrMalformed, len(rep.Intervals), maxIntervals)
	}
	r := Result{Error: rep.Error, Intervals: len(rep.Intervals)}
	if len(rep.Start.Connected) > 0 {
		r.Conn = rep.Start.Connected[0]
	}
	var run time.Duration
	for i, iv := range rep.Intervals {
		s := iv.Sum
		if s.Seconds < 0 || s.End < s.Start || s.Seconds > 3600 {
			return Result{}, fmt.Errorf("%w: interval %d: %g..%g s (%g s)", ErrMalformed, i, s.Start, s.End, s.Seconds)
		}
		if s.Bytes == 0 {
			run += time.Duration(s.Seconds * float64(time.Second))
			r.LongestStall = max(r.LongestStall, run)
		} else {
			run = 0
		}
	}
	end := rep.End.SumReceived
	if sender {
		end = rep.End.SumSent
	}
	if end == nil {
		end = rep.End.Sum
	}
	switch {
	case end != nil:
		if end.Seconds < 0 || end.Seconds > 1e7 {
			return Result{}, fmt.Errorf("%w: end: %g s", ErrMalformed, end.Seconds)
		}
		r.Seconds, r.Bytes, r.Retransmits = end.Seconds, end.Bytes, end.Retransmits
	case r.Error == "":
		return Result{}, fmt.Errorf("%w: no end summary and no error", ErrMalformed)
	}
	return r, nil
}
