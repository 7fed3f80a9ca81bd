package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/netctl/verify"
)

// verifyResult is the outcome of a verification: the report, and the files
// --report wrote.
type verifyResult struct {
	rep   verify.Report
	files []string
}

func (r *verifyResult) pass() bool  { return r.rep.Pass }
func (r *verifyResult) why() string { return strings.TrimPrefix(r.rep.Verdict, "FAIL: ") }

// finish keeps sending for --verify-after (unless interrupted), stops the
// sender, judges the samples against the migration's phases, attaches the
// report to the record on the source agent (updating *m) and writes
// --report. Problems attaching or writing are warned about, not fatal:
// the verdict stands.
func (vs *verifySession) finish(ctx context.Context, g *globals, t *target, m *api.Migration, interrupted bool) *verifyResult {
	if !interrupted && vs.opts.after > 0 {
		fmt.Fprintf(g.logw(), "verify: sending for another %v\n", vs.opts.after)
		select {
		case <-ctx.Done():
		case <-time.After(vs.opts.after):
		}
	}
	samples := vs.s.Stop()
	var tcp *verify.TCPCheck
	if vs.flow != nil {
		tcp = vs.tcpCheck(g)
	}
	// Requests below must be made even after an interrupt.
	actx := context.WithoutCancel(ctx)
	if got, err := call(actx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.GetMigration(ctx, m.ID)
	}); err == nil {
		*m = got // the final phases
	}
	res := &verifyResult{rep: verify.AnalyzeMigration(samples, *m, verify.Limits{MaxLost: vs.opts.maxLost, MaxGap: vs.opts.maxGap})}
	if tcp != nil {
		res.rep.AddTCP(*tcp)
	}
	raw, err := json.Marshal(res.rep)
	if err != nil {
		g.warnf("encoding the verification: %v", err)
		return res
	}
	got, err := call(actx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.AttachVerification(ctx, m.ID, raw)
	})
	if err != nil {
		g.warnf("could not attach the verification to migration %s on %s: %v", m.ID, t.name, err)
	} else {
		*m = got
	}
	if len(m.Verification) == 0 {
		m.Verification = raw
	}
	if vs.opts.report != "" {
		res.files, err = verify.WriteReport(vs.opts.report, *m, res.rep, samples)
		if err != nil {
			g.warnf("writing the report to %s: %v", vs.opts.report, err)
		}
	}
	return res
}

// tcpCheck stops the TCP flow and returns its account; a flow that could
// not be measured counts as not surviving, with the reason.
func (vs *verifySession) tcpCheck(g *globals) *verify.TCPCheck {
	target := fmt.Sprintf("%s:%d", vs.target.Addr(), vs.opts.tcpPort)
	r, err := vs.flow.Stop()
	if err != nil {
		g.warnf("the TCP flow: %v", err)
		return &verify.TCPCheck{Target: target, Error: err.Error()}
	}
	return &verify.TCPCheck{Target: target, Bytes: r.Bytes, Seconds: r.Seconds, Retransmits: r.Retransmits,
		LongestStall: api.Duration(r.LongestStall), Survived: r.Survived(), Error: r.Error}
}

// print writes the verdict block and the report's paths; r may be nil.
func (r *verifyResult) print(g *globals) {
	if r == nil {
		return
	}
	printReport(g.env.Stdout, r.rep, r.files)
}

// printVerification prints a verification attached to a record.
func printVerification(g *globals, raw json.RawMessage) {
	var rep verify.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		fmt.Fprintf(g.env.Stdout, "verification: unreadable (%v)\n", err)
		return
	}
	printReport(g.env.Stdout, rep, nil)
}

// printReport is the verdict block: counts, the largest gap and where it
// fell, latency, reflector continuity, PASS or FAIL and the report files.
func printReport(w io.Writer, r verify.Report, files []string) {
	tw := newTable(w)
	defer tw.Flush()
	fmt.Fprintln(tw, "verification (TWAMP-light through the VNF's reflector):")
	fmt.Fprintf(tw, "  sent:\t%d\n", r.Sent)
	fmt.Fprintf(tw, "  received:\t%d\n", r.Received)
	fmt.Fprintf(tw, "  lost:\t%d\n", r.Lost)
	fmt.Fprintf(tw, "  duplicated:\t%d\n", r.Duplicated)
	fmt.Fprintf(tw, "  reordered:\t%d\n", r.Reordered)
	gap := fmtMillis(r.LargestGap)
	if !r.GapStart.IsZero() {
		gap += fmt.Sprintf(" during %s (%s to %s), %d lost in it", r.GapPhase,
			r.GapStart.Format("15:04:05.000"), r.GapEnd.Format("15:04:05.000"), r.GapLost)
	}
	fmt.Fprintf(tw, "  largest gap:\t%s\n", gap)
	fmt.Fprintf(tw, "  latency:\tp50 %s, p99 %s, max %s\n", fmtMillis(r.LatencyP50), fmtMillis(r.LatencyP99), fmtMillis(r.LatencyMax))
	if r.Recovery != nil {
		fmt.Fprintf(tw, "  vnf recovery:\t%s\n", r.Recovery)
	}
	cont := "continuous"
	if !r.ReflectorSeqContinuous {
		cont = fmt.Sprintf("BROKEN, %d jumps (the VNF restarted or is another instance)", r.ReflectorSeqJumps)
	}
	fmt.Fprintf(tw, "  reflector seq:\t%s (%d to %d)\n", cont, r.ReflectorSeqFirst, r.ReflectorSeqLast)
	if r.Handoff != nil {
		fmt.Fprintf(tw, "  hand-off:\t%s\n", handoffVerdict(r.Handoff))
	}
	if c := r.TCP; c != nil {
		state := "survived"
		if !c.Survived {
			state = "DID NOT SURVIVE: " + or(c.Error, "no data")
		}
		fmt.Fprintf(tw, "  tcp (iperf3):\t%s, %.1f MB in %.1fs to %s, %d retransmits, longest stall %s\n",
			state, float64(c.Bytes)/1e6, c.Seconds, c.Target, c.Retransmits, fmtMillis(c.LongestStall))
	}
	fmt.Fprintf(tw, "  verdict:\t%s\n", or(r.Verdict, "none"))
	for _, f := range files {
		fmt.Fprintf(tw, "  report:\t%s\n", f)
	}
}

// fmtMillis prints a short duration in milliseconds: 0.4ms, 45ms, 1234ms.
func fmtMillis(d api.Duration) string {
	ms := time.Duration(d).Seconds() * 1000
	if ms < 10 {
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
