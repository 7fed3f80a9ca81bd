package iperf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Defaults of Client.
const (
	DefaultPort     = 5201
	DefaultInterval = 100 * time.Millisecond // iperf3's finest
	// The client writes blockBytes at a time into a socket buffer of
	// windowBytes: small enough that what it sent in an interval is what
	// left (a stall on the path blocks it within ~50 ms at 10 Mbit/s,
	// where the default buffer of megabytes would hide it), and blocks
	// that fill every interval at a few Mbit/s (iperf3's 128 KiB default
	// leaves some empty: false stalls).
	blockBytes  = 16 << 10
	windowBytes = 64 << 10
)

// Client is an iperf3 TCP test from a network namespace to a server.
type Client struct {
	Netns    string // "" = netctl's own
	Server   netip.Addr
	Port     int           // default DefaultPort
	Duration time.Duration // whole seconds, at least 1
	// Bitrate caps the flow (bits/s; 0: as fast as TCP goes): a load the
	// path through a TCG guest sustains.
	Bitrate  int64
	Interval time.Duration // report interval, default DefaultInterval
}

// command is cmd's argv run in netns ns.
func command(ctx context.Context, ns string, args ...string) *exec.Cmd {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

// args is the client's command line: a JSON report at the end, or (text)
// interval lines flushed as they end (see ParseText).
func (c Client) args(text bool) ([]string, error) {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	secs := int(c.Duration / time.Second)
	if secs < 1 || !c.Server.IsValid() {
		return nil, fmt.Errorf("iperf3 client: want a server and a duration of at least 1s (got %s, %v)", c.Server, c.Duration)
	}
	args := []string{"iperf3", "-c", c.Server.String(), "-p", strconv.Itoa(c.Port),
		"-t", strconv.Itoa(secs), "-i", strconv.FormatFloat(c.Interval.Seconds(), 'f', -1, 64),
		"-l", strconv.Itoa(blockBytes), "-w", strconv.Itoa(windowBytes)}
	if c.Bitrate > 0 {
		args = append(args, "-b", strconv.FormatInt(c.Bitrate, 10))
	}
	if text {
		return append(args, "--forceflush"), nil
	}
	return append(args, "--json"), nil
}

// Run runs the test and returns the client's account; a test that failed
// (connection reset, server gone) returns the account with its Error set
// and no error: that is a finding, not a failure to measure.
func (c Client) Run(ctx context.Context) (Result, error) {
	args, err := c.args(false)
	if err != nil {
		return Result{}, err
	}
	var out, stderr bytes.Buffer
	cmd := command(ctx, c.Netns, args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	r, perr := Parse(out.Bytes(), true)
	if perr != nil {
		// iperf3 exits 1 with a JSON report carrying "error"; anything
		// else (not installed, no namespace) is a failure to measure.
		return Result{}, fmt.Errorf("iperf3 client to %s:%d: %w (%v; %s)", c.Server, c.Port, perr, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return r, nil
}

// Server is a one-off iperf3 server (one test, then it exits).
type Server struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{} // closed once the process is reaped
	err    error         // its exit status
}

// StartServer starts a one-off server on addr:port in network namespace
// ns. It returns once the server listens.
func StartServer(ctx context.Context, ns string, addr netip.Addr, port int) (*Server, error) {
	if port == 0 {
		port = DefaultPort
	}
	s := &Server{exited: make(chan struct{})}
	s.cmd = command(ctx, ns, "iperf3", "--json", "-s", "-1", "-B", addr.String(), "-p", strconv.Itoa(port))
	s.cmd.Stdout = &s.out
	var stderr bytes.Buffer
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting iperf3 server: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	// iperf3 has no readiness signal: wait until the port listens.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("iperf3 server on %s:%d exited: %v: %s", addr, port, s.err, bytes.TrimSpace(stderr.Bytes()))
		default:
		}
		if listening(ctx, ns, port) {
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("iperf3 server on %s:%d: not listening after 5s", addr, port)
}

// listening reports whether a TCP socket listens on port in ns.
func listening(ctx context.Context, ns string, port int) bool {
	out, err := command(ctx, ns, "ss", "-Htln", "sport", "= :"+strconv.Itoa(port)).Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// Wait waits for the server's test to end and returns its account (its
// Conn.Remote is the client as the server saw it).
func (s *Server) Wait(ctx context.Context) (Result, error) {
	select {
	case <-s.exited:
	case <-ctx.Done():
		s.Stop()
		return Result{}, ctx.Err()
	}
	return Parse(s.out.Bytes(), false)
}

// Stop kills the server if it still runs and reaps it.
func (s *Server) Stop() {
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return // not ours to wait for
	}
	<-s.exited
}

// Flow is a client test started with Start, running until Stop.
type Flow struct {
	cmd    *exec.Cmd
	out    bytes.Buffer // stdout and stderr: text lines (see ParseText)
	exited chan struct{}
	err    error
	target string
}

// interrupted is the notice iperf3 prints when its client is stopped with
// SIGINT, as Stop does: the end of the test, not a failure.
const interrupted = "interrupt - the client has terminated"

// longest is the duration a Flow is started with: Stop ends it.
const longest = 24 * time.Hour

// Start starts the test without an end (c.Duration is ignored); Stop ends
// it and returns the account.
func (c Client) Start(ctx context.Context) (*Flow, error) {
	c.Duration = longest
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	args, err := c.args(true)
	if err != nil {
		return nil, err
	}
	f := &Flow{exited: make(chan struct{}), target: fmt.Sprintf("%s:%d", c.Server, c.Port)}
	// Not CommandContext: ctx ending must not kill the client before Stop
	// has read its report.
	f.cmd = command(context.WithoutCancel(ctx), c.Netns, args...)
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting iperf3 client: %w", err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.exited)
	}()
	return f, nil
}

// Stop interrupts the client (SIGINT: it prints its summary) and returns
// its account; a flow that failed before (a reset) returns that failure in
// Result.Error. A client that dies in its SIGINT handler has still printed
// every interval up to the stop: its account is their sum.
func (f *Flow) Stop() (Result, error) {
	stopped := false
	select {
	case <-f.exited:
	default:
		stopped = true
		f.cmd.Process.Signal(os.Interrupt)
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			f.cmd.Process.Kill()
			<-f.exited
		}
	}
	r, err := ParseText(f.out.Bytes())
	if err != nil {
		return Result{}, fmt.Errorf("iperf3 client to %s: %w (%v; %s)", f.target, err, f.err, lastLine(f.out.Bytes()))
	}
	switch {
	case stopped && r.Error == interrupted:
		r.Error = ""
	case !stopped && r.Error == "":
		// It ended before Stop without saying why (it runs for a day).
		r.Error = fmt.Sprintf("iperf3 ended before it was stopped (%v)", f.err)
	}
	return r, nil
}

// lastLine is b's last non-empty line, for an error message.
func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	return b[bytes.LastIndexByte(b, '\n')+1:]
}

// Exited reports whether the client has ended on its own (it could not
// connect, or the connection failed).
func (f *Flow) Exited() bool {
	select {
	case <-f.exited:
		return true
	default:
		return false
	}
}
