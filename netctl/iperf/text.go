package iperf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A stoppable Flow reads iperf3's text output, not --json: iperf3 3.12
// writes its JSON report only at the end, from its SIGINT handler, which
// can abort in malloc (the handler interrupted the main loop inside it);
// with --forceflush every interval line is out as it ends, so what the
// flow measured up to the stop survives whatever the handler does.

var (
	// [  5] local 198.18.0.2 port 40438 connected to 198.19.0.2 port 5201
	connLine = regexp.MustCompile(`^\[\s*\d+\] local (\S+) port (\d+) connected to (\S+) port (\d+)\s*$`)
	// [  5]   0.10-0.20   sec   128 KBytes  10.5 Mbits/sec    0    950 KBytes
	// [  5]   0.00-0.76   sec   928 KBytes  10.1 Mbits/sec    0             sender
	// (Retr and Cwnd only on the sender's lines; receiver's summary has none.)
	intervalLine = regexp.MustCompile(`^\[\s*\d+\]\s+([\d.]+)-([\d.]+)\s+sec\s+([\d.]+) (Bytes|KBytes|MBytes|GBytes|TBytes)\s+[\d.]+ \S+/sec(?:\s+(\d+))?(?:\s+[\d.]+ \S+)?\s*(sender|receiver)?\s*$`)
)

// textUnits are iperf3's byte units (powers of 1024).
var textUnits = map[string]float64{"Bytes": 1, "KBytes": 1 << 10, "MBytes": 1 << 20, "GBytes": 1 << 30, "TBytes": 1 << 40}

// ParseText reads a client's text output (stdout and stderr together) as
// far as it goes: its intervals, its summary if it got that far, and
// iperf3's own error ("iperf3: error - …" or the interrupt notice). The
// summary's bytes are iperf3's rounded figure (three digits); without a
// summary, Bytes, Retransmits and Seconds add up the intervals.
func ParseText(b []byte) (Result, error) {
	var r Result
	var run time.Duration
	var sumBytes, sumRetr uint64
	var lastEnd float64
	summary := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if msg, ok := strings.CutPrefix(line, "iperf3: "); ok {
			if r.Error == "" {
				r.Error = strings.TrimPrefix(msg, "error - ")
			}
			continue
		}
		if m := connLine.FindStringSubmatch(line); m != nil {
			lp, _ := strconv.Atoi(m[2]) // the pattern admits digits only
			rp, _ := strconv.Atoi(m[4])
			r.Conn = Conn{LocalHost: m[1], LocalPort: lp, RemoteHost: m[3], RemotePort: rp}
			continue
		}
		m := intervalLine.FindStringSubmatch(line)
		if m == nil {
			continue // headers, separators, "Connecting to host"
		}
		start, err1 := strconv.ParseFloat(m[1], 64)
		end, err2 := strconv.ParseFloat(m[2], 64)
		n, err3 := strconv.ParseFloat(m[3], 64)
		if err := errors.Join(err1, err2, err3); err != nil || end < start || end-start > 3600 || n > 1<<50 {
			return Result{}, fmt.Errorf("%w: line %q", ErrMalformed, line)
		}
		nb := uint64(n * textUnits[m[4]])
		var retr uint64
		if m[5] != "" {
			if retr, err1 = strconv.ParseUint(m[5], 10, 32); err1 != nil {
				return Result{}, fmt.Errorf("%w: line %q", ErrMalformed, line)
			}
		}
		switch m[6] {
		case "sender":
			r.Seconds, r.Bytes, r.Retransmits, summary = end-start, nb, retr, true
			continue
		case "receiver":
			continue
		}
		if r.Intervals++; r.Intervals > maxIntervals {
			return Result{}, fmt.Errorf("%w: more than %d intervals", ErrMalformed, maxIntervals)
		}
		sumBytes, sumRetr, lastEnd = sumBytes+nb, sumRetr+retr, end
		if nb == 0 {
			run += time.Duration((end - start) * float64(time.Second)).Round(time.Millisecond)
			r.LongestStall = max(r.LongestStall, run)
		} else {
			run = 0
		}
	}
	if err := sc.Err(); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !summary {
		r.Seconds, r.Bytes, r.Retransmits = lastEnd, sumBytes, sumRetr
	}
	if r.Intervals == 0 && r.Error == "" {
		return Result{}, fmt.Errorf("%w: no interval and no error", ErrMalformed)
	}
	return r, nil
}
