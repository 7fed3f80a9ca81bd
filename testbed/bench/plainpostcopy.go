package main

// qemu-postcopy: plain QEMU over TCP with post-copy, driven as an operator
// would: the postcopy-ram capability on both ends, migrate-start-postcopy
// once the first pass is done (the point nfhandoff's postcopy always
// switches at), the destination set to start the guest itself.

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/policy"
	"github.com/nfhandoff/nfhandoff/migrator/vm"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpx"
)

// postcopyPass is the dirty-sync count at which post-copy starts: QEMU
// counts 1 at the start of the first pass and 2 when it ends, the same
// boundary as the agents' postcopy always (policy: pass 2).
const postcopyPass = 2

// migratePostcopy moves src to dst (listening on uri) through post-copy.
// A cont on the destination while it is still incoming sets QEMU's
// autostart: it starts the guest as soon as post-copy runs there, as it
// would without -S. The guest's resume is the destination's RESUME event
// (QEMU's timestamp, the host's clock, as the test traffic's); its pause
// runs from the source's STOP event to it.
func (p *plain) migratePostcopy(ctx context.Context, src, dst *vm.Instance, uri string) (Outcome, error) {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := firstEvent(ectx, src.Events(ectx), qmpcmd.EventStop)
	resumed := firstEvent(ectx, dst.Events(ectx), qmpcmd.EventResume)
	if err := dst.Execute(ctx, qmpcmd.Cont, nil, nil); err != nil {
		return Outcome{}, fmt.Errorf("cont on the incoming destination: %w", err)
	}
	started := time.Now()
	if err := src.Execute(ctx, qmpcmd.Migrate, qmpcmd.URI{URI: uri}, nil); err != nil {
		return Outcome{}, fmt.Errorf("%s %s: %w", qmpcmd.Migrate, uri, err)
	}
	sum, switched, err := postcopyAfterFirstPass(ctx, src, 10*time.Minute)
	if err != nil {
		return Outcome{}, fmt.Errorf("source: %w", err)
	}
	if _, err := waitMigration(ctx, dst, time.Minute, false); err != nil {
		return Outcome{}, fmt.Errorf("destination: %w", err)
	}
	var res, stop time.Time
	select {
	case res = <-resumed:
	case <-time.After(10 * time.Second):
		return Outcome{}, fmt.Errorf("no %s event from the destination", qmpcmd.EventResume)
	}
	select {
	case stop = <-stopped:
	case <-time.After(time.Second):
	}
	if st, err := dst.QueryStatus(ctx); err != nil || st != qmpcmd.RunStateRunning {
		return Outcome{}, fmt.Errorf("destination after post-copy: status %q (%v), want running", st, err)
	}
	if !stop.IsZero() && res.After(stop) {
		sum.Downtime = max(sum.Downtime, res.Sub(stop))
	}
	return Outcome{Summary: sum, Dst: dst, Started: started, Resumed: res, Postcopy: switched}, nil
}

// postcopyAfterFirstPass polls query-migrate on the source until the
// migration ends, starting post-copy once the dirty-sync count reaches
// postcopyPass; it reports whether post-copy was started.
func postcopyAfterFirstPass(ctx context.Context, inst *vm.Instance, limit time.Duration) (policy.Summary, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	switched := false
	for {
		raw, err := queryMigrate(ctx, inst)
		if err != nil {
			return policy.Summary{}, switched, err
		}
		s, err := policy.ParseSummary(raw)
		if err != nil {
			return s, switched, err
		}
		switch s.Status {
		case qmpcmd.MigrationActive:
			if !switched && s.RAM.DirtySyncCount >= postcopyPass {
				if err := inst.Execute(ctx, qmpcmd.MigrateStartPostcopy, nil, nil); err != nil {
					return s, switched, fmt.Errorf("%s: %w", qmpcmd.MigrateStartPostcopy, err)
				}
				switched = true
			}
		case qmpcmd.MigrationCompleted:
			if s.TotalTime > 0 {
				return s, switched, nil
			}
		case qmpcmd.MigrationFailed, qmpcmd.MigrationCancelled:
			return s, switched, fmt.Errorf("migration %s: %s", s.Status, s.Error)
		}
		select {
		case <-ctx.Done():
			return s, switched, fmt.Errorf("waiting for migration (status %s): %w", s.Status, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// firstEvent delivers the time (QEMU's) of the first event named name on
// events, once; nothing if events ends first.
func firstEvent(ctx context.Context, events <-chan qmpx.Event, name string) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-events:
				if !ok {
					return
				}
				if e.Name == name {
					out <- e.Time
					return
				}
			}
		}
	}()
	return out
}
