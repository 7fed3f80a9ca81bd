package main

// A move as the tables count it, from what its method reported: for the
// guests moved one at a time (move) and each guest of a gang (gangmove.go).

import (
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/policy"
)

// runOf is what a move's outcome says, as a Run (no wire bytes, no
// traffic: the harness measures those).
func runOf(method string, mv Move, o Outcome) Run {
	r := Run{Method: method, From: mv.From.Name, To: mv.To.Name, TotalTime: o.Summary.TotalTime,
		Downtime: o.Summary.Downtime, SetupTime: o.Summary.SetupTime, RAMBytes: o.Summary.RAM.Transferred, CPU: o.CPU, Libvirt: o.Libvirt}
	if rec := o.Record; rec != nil {
		r.Record = &RecordRun{ID: rec.ID, EndToEnd: rec.Ended.Sub(rec.Started), PayloadBytes: rec.WireBytes,
			Passes: rec.RAM.DirtySyncCount, Postcopy: rec.Postcopy, Decisions: len(rec.Decisions),
			Phases: rec.Phases, Paused: time.Duration(rec.Paused), Target: time.Duration(rec.Request.DowntimeTarget), Codec: rec.Codec,
			PausedParts: rec.PausedParts}
		for _, d := range rec.Decisions {
			if d.Action == policy.KindNote {
				r.Record.Notes = append(r.Record.Notes, d.Reason)
			}
		}
		if rec.Postcopy {
			r.Postcopy = &PostcopyRun{RemoteFaults: rec.RemoteFaults(), Requests: rec.RAM.PostcopyRequests, Prefetch: rec.Prefetch}
		}
	}
	if o.Postcopy { // plain QEMU: every request is the guest's
		r.Postcopy = &PostcopyRun{RemoteFaults: o.Summary.RAM.PostcopyRequests, Requests: o.Summary.RAM.PostcopyRequests}
	}
	return r
}
