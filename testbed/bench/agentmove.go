package main

// How the nfhandoff methods move guests through the agents: the request,
// the moves of one guest or a gang at once, the checks of each record.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/policy"
)

// request is mv's migrate request, in gang ("": alone).
func (n *nfhandoff) request(mv Move, gang string) api.MigrateRequest {
	req := api.MigrateRequest{
		VM: mv.Spec.Name, To: mv.To.Name,
		Bandwidth:         int64(mv.Settings.MaxBandwidth),
		InitialBandwidth:  int64(mv.Settings.MaxBandwidth),
		DowntimeTarget:    api.Duration(mv.Settings.Downtime),
		Postcopy:          api.PostcopyAuto,
		CompletionTimeout: api.Duration(10 * time.Minute),
		TimeoutAction:     api.TimeoutAbort,
		Pipe:              n.pipe,
		Gang:              gang,
	}
	if n.adaptive {
		req.InitialBandwidth = 0
	}
	if n.multifd > 0 {
		req.Postcopy, req.MultifdChannels = api.PostcopyNever, n.multifd
	}
	if n.codec {
		req.Codec = api.CodecAuto
	}
	if n.prefetch != "" {
		req.Postcopy, req.PostcopyPrefetch = api.PostcopyAlways, n.prefetch
	}
	return req
}

// migrate asks the source agent for every move of mvs at once and waits
// for all of them; CPU times are read once for all, so an agent serving
// several moves is counted once. Every move must complete.
func (n *nfhandoff) migrate(ctx context.Context, mvs []Move, gang string) (GangOutcome, error) {
	from, to := mvs[0].From, mvs[0].To
	src, dst := n.agents[from.Name], n.agents[to.Name]
	names := make([]string, len(mvs))
	for i, mv := range mvs {
		names[i] = mv.Spec.Name
	}
	c0, err := n.cpuStart(ctx, src, dst, names)
	if err != nil {
		return GangOutcome{}, err
	}
	if n.profile.dir != "" {
		wait := n.profile.take(ctx, fmt.Sprintf("%s-%s-%d", names[0], n.Name(), mvs[0].Port), src, dst)
		defer wait()
	}
	asked := time.Now()
	ms, errs := make([]api.Migration, len(mvs)), make([]error, len(mvs))
	var wg sync.WaitGroup
	for i, mv := range mvs {
		wg.Go(func() {
			m, err := src.client.Migrate(ctx, n.request(mv, gang))
			if err != nil {
				errs[i] = fmt.Errorf("migrate request for %s to %s: %w", mv.Spec.Name, from.Name, err)
				return
			}
			ms[i], errs[i] = n.wait(ctx, src, m.ID)
		})
	}
	wg.Wait()
	g := GangOutcome{Outcomes: make([]Outcome, len(mvs))}
	dstPIDs := make([]int, len(mvs))
	for i, m := range ms {
		if errs[i] == nil {
			dstPIDs[i], errs[i] = n.arrived(ctx, m, from, to)
		}
		if errs[i] == nil {
			g.Outcomes[i] = n.outcome(m, dst, asked)
			g.Time = max(g.Time, m.Ended.Sub(asked))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return g, n.failed(err)
	}
	if g.CPU, err = c0.end(dstPIDs); err != nil {
		return g, n.failed(err)
	}
	if len(mvs) == 1 {
		g.Outcomes[0].CPU = g.CPU
	}
	return g, nil
}

// arrived checks that migration m completed with its guest gone from
// the source and running at the destination, and a record read after
// QEMU computed its times; it returns the destination QEMU's PID.
func (n *nfhandoff) arrived(ctx context.Context, m api.Migration, from, to *Host) (int, error) {
	if m.State != api.MigrationCompleted {
		return 0, fmt.Errorf("migration %s of %s %s: %s", m.ID, m.VM, m.State, m.Reason)
	}
	if _, err := n.agents[from.Name].client.GetVM(ctx, m.VM); !errors.Is(err, api.ErrNotFound) {
		return 0, fmt.Errorf("migration %s completed but %s still has %s (%v)", m.ID, from.Name, m.VM, err)
	}
	v, err := n.agents[to.Name].client.GetVM(ctx, m.VM)
	if err != nil || v.State != api.StateRunning {
		return 0, fmt.Errorf("migration %s completed but %s does not run %s: %s %v", m.ID, to.Name, m.VM, v.State, err)
	}
	if m.TotalTime == 0 {
		// QEMU 7.2 says completed a moment before it computes its times;
		// a record read in that moment would skew the medians silently.
		return 0, fmt.Errorf("migration %s completed but its record has no QEMU total time (read before QEMU computed it)", m.ID)
	}
	return v.PID, nil
}

// outcome is a completed migration's record as an Outcome (CPU apart).
func (n *nfhandoff) outcome(m api.Migration, dst *agent, asked time.Time) Outcome {
	// The agent stops the guest before QEMU's final phase, which is all
	// QEMU's downtime counts: the guest's real blackout is the record's
	// paused (stop on the source to running at the destination, so also
	// the commit's trip, which plain QEMU's figure leaves out).
	down := max(time.Duration(m.QEMUDowntime), time.Duration(m.Paused))
	sum := policy.Summary{Status: m.State, TotalTime: time.Duration(m.TotalTime),
		Downtime: down, SetupTime: time.Duration(m.SetupTime), RAM: m.RAM}
	return Outcome{Summary: sum, Dst: agentGuest{a: dst, name: m.VM}, Record: &m, Asked: asked}
}

// wait polls the migration until it ends; if ctx ends first it cancels
// the migration (the guest stays on the source).
func (n *nfhandoff) wait(ctx context.Context, a *agent, id string) (api.Migration, error) {
	for {
		m, err := a.client.GetMigration(ctx, id)
		if err == nil && api.Ended(m.State) {
			return m, nil
		}
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a.client.CancelMigration(cctx, id)
			for cctx.Err() == nil {
				if m, err := a.client.GetMigration(cctx, id); err == nil && api.Ended(m.State) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			return m, fmt.Errorf("migration %s: %w", id, ctx.Err())
		case <-a.done:
			return m, fmt.Errorf("migration %s: the agent on %s exited", id, a.host.Name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// failed adds the agents' last log lines to err: their files go with the
// bench's run dir.
func (n *nfhandoff) failed(err error) error {
	for _, name := range slices.Sorted(maps.Keys(n.agents)) {
		err = fmt.Errorf("%w\nmigratord %s, last lines:\n%s", err, name, tail(n.agents[name].log, 15))
	}
	return err
}
