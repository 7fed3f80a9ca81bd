package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/netctl/iperf"
)

// The core segment behind the firewall guest (issue 13): a core bridge in
// every host with an uplink to a core switch namespace, where the server
// namespace runs iperf3's server. The client routes the core through the
// guest's access address; the guest masquerades towards the core.
const (
	coreBridge = "nfb-cbr"
	coreUplink = "nfb-cup"
	coreNS     = "nfb-core"
	serverNS   = "nfb-server"
	coreSubnet = "198.19.201.0/24"
	guestCore  = "198.19.201.100/24" // the guest's core NIC
	serverAddr = "198.19.201.2"
	tcpPort    = 5201
	// tcpRate is the TCP flow across every move of the firewall guest: a
	// load its TCG guest forwards with room to spare.
	tcpRate = 10_000_000
)

var serverIP = netip.MustParseAddr(serverAddr)

// coreUp makes the core segment and the client's route through the guest.
func coreUp(hosts []*Host) error {
	cmds := [][]string{
		{"netns", "add", coreNS},
		{"-n", coreNS, "link", "set", "lo", "up"},
		{"-n", coreNS, "link", "add", "nfb-core", "type", "bridge"},
		{"-n", coreNS, "link", "set", "nfb-core", "up"},
		{"netns", "add", serverNS},
		{"-n", serverNS, "link", "set", "lo", "up"},
		{"link", "add", "nfb-s0", "netns", serverNS, "type", "veth", "peer", "name", "nfb-p-server", "netns", coreNS},
		{"-n", coreNS, "link", "set", "nfb-p-server", "master", "nfb-core", "up"},
		{"-n", serverNS, "addr", "add", serverAddr + "/24", "dev", "nfb-s0"},
		{"-n", serverNS, "link", "set", "nfb-s0", "up"},
		{"-n", clientNS, "route", "add", coreSubnet, "via", guestIP},
	}
	for i, h := range hosts {
		port := "nfb-cp-" + h.Name
		cmds = append(cmds,
			// A fixed MAC, as for the access bridge (see topoUp).
			[]string{"-n", h.Netns, "link", "add", coreBridge, "address", fmt.Sprintf("02:00:c6:13:c9:%02x", 11+i), "type", "bridge"},
			[]string{"-n", h.Netns, "link", "set", coreBridge, "up"},
			[]string{"link", "add", coreUplink, "netns", h.Netns, "type", "veth", "peer", "name", port, "netns", coreNS},
			[]string{"-n", h.Netns, "link", "set", coreUplink, "master", coreBridge, "up"},
			[]string{"-n", coreNS, "link", "set", port, "master", "nfb-core", "up"})
	}
	for _, args := range cmds {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// TCPRun is what the TCP flow through the firewall saw across one move.
type TCPRun struct {
	Bytes        uint64        `json:"bytes"`
	Retransmits  uint64        `json:"retransmits"`
	LongestStall time.Duration `json:"longest_stall_ns"`
	Survived     bool          `json:"survived"`
	Error        string        `json:"error,omitempty"`
}

// tcpFlow is an iperf3 flow from the client to the server, through the
// guest, with its one-off server.
type tcpFlow struct {
	srv  *iperf.Server
	flow *iperf.Flow
}

// startTCP starts a flow of rate bits/s (0: unbounded).
func startTCP(ctx context.Context, rate int64) (*tcpFlow, error) {
	srv, err := iperf.StartServer(ctx, serverNS, serverIP, tcpPort)
	if err != nil {
		return nil, err
	}
	f, err := iperf.Client{Netns: clientNS, Server: serverIP, Port: tcpPort, Bitrate: rate}.Start(ctx)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	return &tcpFlow{srv: srv, flow: f}, nil
}

// stop ends the flow and returns its account.
func (t *tcpFlow) stop() (TCPRun, iperf.Result) {
	defer t.srv.Stop()
	r, err := t.flow.Stop()
	if err != nil {
		return TCPRun{Error: err.Error()}, r
	}
	return TCPRun{Bytes: r.Bytes, Retransmits: r.Retransmits, LongestStall: r.LongestStall, Survived: r.Survived(), Error: r.Error}, r
}

// TCPRow summarises the TCP flows of one guest and method.
type TCPRow struct {
	Survived      int  `json:"survived"` // runs whose flow survived
	Retransmits   Stat `json:"retransmits"`
	LongestStallM Stat `json:"longest_stall_ms"`
}

func addTCP(row *Row, acc map[int]*[2][]float64, i int, t *TCPRun) {
	if row.TCP == nil {
		row.TCP = &TCPRow{}
		acc[i] = &[2][]float64{}
	}
	if t.Survived {
		row.TCP.Survived++
	}
	acc[i][0] = append(acc[i][0], float64(t.Retransmits))
	acc[i][1] = append(acc[i][1], float64(t.LongestStall)/float64(time.Millisecond))
}

// printTCP writes the TCP table and the idle throughput line.
func printTCP(w io.Writer, rows []Row, idle []IdleAB) {
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join([]string{"guest", "method", "survived", "retransmits", "longest stall ms"}, "\t"))
	for _, r := range rows {
		if x := r.TCP; x != nil {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", r.Guest, r.Method, x.Survived, r.Runs, rng(x.Retransmits, "%.0f"), rng(x.LongestStallM, "%.0f"))
		}
	}
	tw.Flush()
	for _, f := range idle {
		a, d, r := stat(f.Attached), stat(f.Detached), stat(f.Ratios())
		fmt.Fprintf(w, "%s, not moving, unbounded flow, %d × %v each way in turn (ABBA): the dataplane's programs attached (PASS) %s Mbit/s, detached %s Mbit/s; attached/detached per pair %s (target ≥ 0.98×)\n",
			f.Guest, len(f.Attached), idleFor, rng(a, "%.0f"), rng(d, "%.0f"), rng(r, "%.3f×"))
		if f.ProgRuns > 0 {
			fmt.Fprintf(w, "  the programs on its path ran %d times over the attached flows, %.0f ns each: %.2f%% of one core\n",
				f.ProgRuns, float64(f.ProgTime)/float64(f.ProgRuns), 100*f.CoreShare())
		}
	}
}

// hasTCP reports whether the runs include a firewall guest's.
func hasTCP(rows []Row) bool {
	return slices.ContainsFunc(rows, func(r Row) bool { return r.TCP != nil })
}
