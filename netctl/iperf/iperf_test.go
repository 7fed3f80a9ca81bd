package iperf

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nfhandoff/nfhandoff/testbed/privtest"
)

// A client's report as iperf3 3.12 writes it (trimmed): 0.4 s, the middle
// two intervals empty.
const clientReport = `{
 "start": {"connected": [{"socket": 5, "local_host": "198.18.0.2", "local_port": 40438, "remote_host": "198.19.0.2", "remote_port": 5201}]},
 "intervals": [
  {"streams": [], "sum": {"start": 0, "end": 0.1, "seconds": 0.1, "bytes": 131072, "retransmits": 0, "sender": true}},
  {"streams": [], "sum": {"start": 0.1, "end": 0.2, "seconds": 0.1, "bytes": 0, "retransmits": 2, "sender": true}},
  {"streams": [], "sum": {"start": 0.2, "end": 0.3, "seconds": 0.1, "bytes": 0, "retransmits": 1, "sender": true}},
  {"streams": [], "sum": {"start": 0.3, "end": 0.4, "seconds": 0.1, "bytes": 65536, "retransmits": 0, "sender": true}}],
 "end": {"sum_sent": {"start": 0, "end": 0.4, "seconds": 0.4, "bytes": 196608, "retransmits": 3, "sender": true},
         "sum_received": {"start": 0, "end": 0.4, "seconds": 0.4, "bytes": 190000, "sender": true}}
}`

func TestParse(t *testing.T) {
	r, err := Parse([]byte(clientReport), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes != 196608 || r.Retransmits != 3 || r.Intervals != 4 || !r.Survived() ||
		r.LongestStall != 200*time.Millisecond || r.Conn.RemotePort != 5201 || r.Conn.LocalPort != 40438 {
		t.Errorf("client: %+v", r)
	}
	if r, err := Parse([]byte(clientReport), false); err != nil || r.Bytes != 190000 {
		t.Errorf("receiver's account: %+v, %v", r, err)
	}
	reset := `{"start": {"connected": []}, "intervals": [{"sum": {"start": 0, "end": 0.1, "seconds": 0.1, "bytes": 10}}], "end": {}, "error": "error - control socket has closed unexpectedly"}`
	if r, err := Parse([]byte(reset), true); err != nil || r.Survived() || r.Error == "" {
		t.Errorf("reset: %+v, %v", r, err)
	}
	for name, bad := range map[string]string{
		"not json":         "iperf3: error - unable to connect",
		"no end":           `{"intervals": []}`,
		"negative":         `{"intervals": [{"sum": {"start": 0, "end": 1, "seconds": -1}}], "end": {"sum_sent": {}}}`,
		"backwards":        `{"intervals": [{"sum": {"start": 2, "end": 1, "seconds": 1}}], "end": {"sum_sent": {}}}`,
		"end out of range": `{"intervals": [], "end": {"sum_sent": {"seconds": 1e9}}}`,
	} {
		if _, err := Parse([]byte(bad), true); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(clientReport), true)
	f.Add([]byte(`{"error": "x"}`), false)
	f.Fuzz(func(t *testing.T, b []byte, sender bool) {
		r, err := Parse(b, sender)
		checkParsed(t, r, err)
	})
}

// checkParsed fails on a parse error that does not wrap ErrMalformed or a
// result no report could give.
func checkParsed(t *testing.T, r Result, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if r.LongestStall < 0 || r.Seconds < 0 || r.Intervals > maxIntervals {
		t.Fatalf("nonsense result %+v", r)
	}
}

// A real iperf3 on loopback (it is Debian's; make deps installs it); in
// the privileged tier, where the testbed's commands are required.
func TestPrivClientServerLoopback(t *testing.T) {
	privtest.RequireCommand(t, "iperf3") // make deps installs it
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lo := netip.MustParseAddr("127.0.0.1")
	s, err := StartServer(ctx, "", lo, 5299)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c, err := Client{Server: lo, Port: 5299, Duration: time.Second, Bitrate: 10_000_000}.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := s.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client %+v; server %+v", c, sr)
	if !c.Survived() || c.Bytes == 0 || c.Intervals < 9 || sr.Conn.RemotePort != c.Conn.LocalPort {
		t.Errorf("client %+v, server %+v", c, sr)
	}
}

// startLoopbackFlow starts a one-off server on loopback port and a flow of
// 10 Mbit/s to it, both ended with the test.
func startLoopbackFlow(t *testing.T, port int) *Flow {
	privtest.RequireCommand(t, "iperf3")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	lo := netip.MustParseAddr("127.0.0.1")
	s, err := StartServer(ctx, "", lo, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	f, err := Client{Server: lo, Port: port, Bitrate: 10_000_000}.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	return f
}

// A flow started without an end and stopped: its account, not an error.
func TestPrivFlowStopped(t *testing.T) {
	f := startLoopbackFlow(t, 5298)
	time.Sleep(1500 * time.Millisecond)
	r, err := f.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped flow: %+v", r)
	if !r.Survived() || r.Bytes == 0 || r.Intervals < 5 || r.Error != "" || r.Conn.RemotePort != 5298 {
		t.Errorf("stopped flow %+v: want survived with bytes", r)
	}
}

// A client that dies on its own before Stop did not survive, even without
// a word from iperf3.
func TestPrivFlowDied(t *testing.T) {
	f := startLoopbackFlow(t, 5295)
	time.Sleep(500 * time.Millisecond)
	f.cmd.Process.Kill()
	for !f.Exited() {
		time.Sleep(10 * time.Millisecond)
	}
	r, err := f.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed flow: %+v", r)
	if r.Survived() || !strings.Contains(r.Error, "ended before it was stopped") {
		t.Errorf("killed flow %+v: want not survived", r)
	}
}

// A stopped client's text output as iperf3 3.12 writes it with
// --forceflush (trimmed): two intervals, one empty, then the interrupt and
// the summary.
const clientText = `Connecting to host 198.19.0.2, port 5201
[  5] local 198.18.0.2 port 57500 connected to 198.19.0.2 port 5201
[ ID] Interval           Transfer     Bitrate         Retr  Cwnd
[  5]   0.00-0.10   sec   128 KBytes  10.5 Mbits/sec    0    950 KBytes       
[  5]   0.10-0.20   sec  0.00 Bytes  0.00 bits/sec    2    950 KBytes       
[  5]   0.20-0.30   sec  0.00 Bytes  0.00 bits/sec    1   1.41 KBytes       
[  5]   0.30-0.36   sec  64.0 KBytes  9.44 Mbits/sec    0    950 KBytes       
iperf3: interrupt - the client has terminated
- - - - - - - - - - - - - - - - - - - - - - - - -
[ ID] Interval           Transfer     Bitrate         Retr
[  5]   0.00-0.36   sec   192 KBytes  4.37 Mbits/sec    3             sender
[  5]   0.00-0.36   sec  0.00 Bytes  0.00 bits/sec                  receiver
`

func TestParseText(t *testing.T) {
	r, err := ParseText([]byte(clientText))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Conn: Conn{"198.18.0.2", 57500, "198.19.0.2", 5201}, Seconds: 0.36, Bytes: 192 << 10, Retransmits: 3,
		LongestStall: 200 * time.Millisecond, Intervals: 4, Error: interrupted}
	if r != want {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	// Cut off before the summary (the client died in its signal handler):
	// the intervals add up.
	cut := clientText[:strings.Index(clientText, "iperf3: interrupt")]
	r, err = ParseText([]byte(cut))
	if err != nil {
		t.Fatal(err)
	}
	want.Bytes, want.Error = 192<<10, ""
	if r != want {
		t.Errorf("cut: got %+v\nwant %+v", r, want)
	}
	// Refused: iperf3's error, no interval.
	r, err = ParseText([]byte("iperf3: error - unable to connect to server: Connection refused\n"))
	if err != nil || r.Error != "unable to connect to server: Connection refused" || r.Survived() {
		t.Errorf("refused: %+v, %v", r, err)
	}
	for _, bad := range []string{"", "Connecting to host x\n", "[  5]   0.30-0.20   sec  1 Bytes  0.00 bits/sec\n"} {
		if _, err := ParseText([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err %v, want ErrMalformed", bad, err)
		}
	}
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte(clientText))
	f.Add([]byte("iperf3: error - x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseText(b)
		checkParsed(t, r, err)
	})
}
