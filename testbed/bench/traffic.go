package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vnfproto"
	"github.com/nfhandoff/nfhandoff/netctl/twamp"
	netverify "github.com/nfhandoff/nfhandoff/netctl/verify"
)

// Test traffic around every migration: TWAMP-light from the client
// namespace to the guest's reflector, from trafficLead before the
// migration starts until trafficTail after it ended, as netctl migrate
// --verify does.
const (
	trafficLead = time.Second
	trafficTail = 2 * time.Second
)

// GuestDrops are the guest kernel's drop counters over a move, those its
// vnf reports (vnfproto.Status), each -1 when it does not.
type GuestDrops struct {
	RxDropped       int64 `json:"rx_dropped"`        // the interface's
	UDPInErrors     int64 `json:"udp_in_errors"`     // UDP datagrams dropped, all reasons
	UDPRcvbufErrors int64 `json:"udp_rcvbuf_errors"` // of them: a socket's buffer full
	UDPMemErrors    int64 `json:"udp_mem_errors"`    // of them: udp_mem exhausted
}

// guestDrops is the guest's drops between two of its vnf's statuses.
func guestDrops(before, after vnfproto.Status) *GuestDrops {
	d := func(f vnfproto.Counters, b, a uint64) int64 {
		if before.Reported&f == 0 || after.Reported&f == 0 {
			return -1
		}
		return int64(a - b)
	}
	return &GuestDrops{RxDropped: d(vnfproto.HasRxDropped, before.RxDropped, after.RxDropped),
		UDPInErrors:     d(vnfproto.HasUDPInErrors, before.UDPInErrors, after.UDPInErrors),
		UDPRcvbufErrors: d(vnfproto.HasUDPRcvbufErrors, before.UDPRcvbufErrors, after.UDPRcvbufErrors),
		UDPMemErrors:    d(vnfproto.HasUDPMemErrors, before.UDPMemErrors, after.UDPMemErrors)}
}

// TrafficRun is what the test traffic saw during one migration.
type TrafficRun struct {
	Rate       int `json:"rate_pps"`
	Sent       int `json:"sent"`
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Reordered  int `json:"reordered"`
	// Gap is the longest time between two consecutive replies' arrivals:
	// the outage the traffic saw, whether its packets were lost or held
	// back (verify's recv_gap). LossGap is verify's largest_gap: between
	// the send times of two answered packets with lost ones in between
	// (0 without loss).
	Gap time.Duration `json:"gap_ns"`
	// GapAt is when Gap began, from the migrate request; GapPhase the
	// record's phase overlapping it most ("none" for the plain methods).
	GapAt               time.Duration `json:"gap_at_ns"`
	GapPhase            string        `json:"gap_phase"`
	LossGap             time.Duration `json:"loss_gap_ns"`
	GapMinusDowntime    time.Duration `json:"gap_minus_downtime_ns"`
	ReflectorContinuous bool          `json:"reflector_seq_continuous"`
	// Handoff is the agents' account (nfhandoff with the eBPF dataplane).
	Handoff *api.HandoffReport `json:"handoff,omitempty"`
	// GuestDrops is what the guest's kernel counted as dropped during the
	// move (its counters after the move less before): where a lost packet
	// went, when it went there.
	GuestDrops *GuestDrops `json:"guest_drops,omitempty"`
	// Recovery is how long after the guest ran at the destination the
	// VNF reflected at 90% of its pre-migration rate again (verify's);
	// nil when the resume is unknown (plain methods but qemu-postcopy).
	Recovery *netverify.Recovery `json:"recovery,omitempty"`
}

// traffic is a running test stream.
type traffic struct {
	s       *netverify.Sender
	rate    int
	samples []netverify.Sample // once stopped
	m       api.Migration      // what stop analysed them against
	rep     netverify.Report
}

// startTraffic starts the stream from network namespace client to the
// guest at ip at rate packets/s.
func startTraffic(ctx context.Context, client string, ip netip.Addr, rate int) (*traffic, error) {
	s, err := netverify.Start(ctx, netverify.Config{
		Target: netip.AddrPortFrom(ip, twamp.Port),
		Rate:   rate, Netns: client,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("starting test traffic to %s: %w", ip, err)
	}
	return &traffic{s: s, rate: rate}, nil
}

// testFrameBytes is one test packet's frame, either way: verify's default
// UDP payload (the reflector answers with as many bytes), UDP, IPv4 and
// Ethernet headers.
const testFrameBytes = netverify.DefaultSize + 8 + 20 + 14

// frameBytes is what the stream put on the wire in [from, to): the
// packets sent and the first reply of each received then (a duplicate is
// left out), testFrameBytes each.
func frameBytes(samples []netverify.Sample, from, to time.Time) uint64 {
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	var n uint64
	for _, s := range samples {
		if in(s.Sent) {
			n++
		}
		if in(s.Received) {
			n++
		}
	}
	return n * testFrameBytes
}

// writeReport writes the stopped stream's report into dir (Settings.TrafficReports).
func (t *traffic) writeReport(dir string) error {
	_, err := netverify.WriteReport(dir, t.m, t.rep, t.samples)
	return err
}

// stop ends the stream and analyses it against the migration m (the
// record; for a plain method its start and resume if measured, else
// nothing), QEMU's downtime and when the migration was asked for.
func (t *traffic) stop(m api.Migration, downtime time.Duration, asked time.Time) TrafficRun {
	t.samples = t.s.Stop()
	rep := netverify.AnalyzeMigration(t.samples, m, netverify.Limits{MaxLost: -1})
	t.m, t.rep = m, rep
	gap := time.Duration(rep.RecvGap)
	r := TrafficRun{Rate: t.rate, Sent: rep.Sent, Lost: rep.Lost, Duplicated: rep.Duplicated, Reordered: rep.Reordered,
		Gap: gap, LossGap: time.Duration(rep.LargestGap), GapMinusDowntime: gap - downtime,
		GapPhase: rep.RecvGapPhase, ReflectorContinuous: rep.ReflectorSeqContinuous, Recovery: rep.Recovery}
	if !rep.RecvGapStart.IsZero() {
		r.GapAt = rep.RecvGapStart.Sub(asked)
	}
	return r
}

// migrationOf is what the traffic is analysed against: the record, or
// for a plain method when it started and its guest resumed, if measured.
func migrationOf(o Outcome) api.Migration {
	if o.Record != nil {
		return *o.Record
	}
	return api.Migration{Started: o.Started, ResumedAt: o.Resumed}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
