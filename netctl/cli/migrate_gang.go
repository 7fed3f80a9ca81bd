package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// GangResult is what "netctl migrate VM1 VM2 …" and "netctl evacuate"
// print with -o json: the gang and one record per VM, in the order given.
type GangResult struct {
	Gang       string          `json:"gang"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	Migrations []api.Migration `json:"migrations"`
}

// gangPoll is how often a gang's records are read while it moves.
const gangPoll = 500 * time.Millisecond

// runMigrateGang moves vms from the target host to req.To as one gang
// (api.MigrateRequest.Gang), at most parallel at a time (0: all): each VM
// keeps its own migration, hand-off and switchover; with --codec auto they
// share one content store. Interrupted, it cancels the migrations not yet
// ended (their guests stay on the source) and says which moved.
func runMigrateGang(ctx context.Context, g *globals, o *migrateOpts, vms []string, parallel int) error {
	if o.verify.on {
		return usageErrorf("--verify checks one VM's traffic: give one VM, or drop --verify")
	}
	seen := map[string]bool{}
	for _, vm := range vms {
		if seen[vm] {
			return usageErrorf("%s given twice", vm)
		}
		seen[vm] = true
	}
	o.req.VM = vms[0] // the request is validated once, for the first
	req, t, err := o.requestFrom(g)
	if err != nil {
		return err
	}
	if parallel <= 0 || parallel > len(vms) {
		parallel = len(vms)
	}
	res := GangResult{Gang: fmt.Sprintf("gang-%x", time.Now().UnixNano()), From: t.name, To: req.To,
		Migrations: make([]api.Migration, len(vms))}
	if !g.jsonOut() {
		fmt.Fprintf(g.logw(), "gang %s: %s from %s to %s, %d at a time\n", res.Gang, strings.Join(vms, " "), t.name, req.To, parallel)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	now := make([]api.Migration, len(vms)) // each VM's latest record (zero: waiting)
	slots := make(chan struct{}, parallel)
	for i, vm := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				res.Migrations[i] = api.Migration{VM: vm, To: req.To, State: api.MigrationCancelled, Reason: "interrupted before it started"}
				return
			}
			defer func() { <-slots }()
			m := moveOne(ctx, g, t, req, vm, res.Gang, func(m api.Migration) {
				mu.Lock()
				now[i] = m
				mu.Unlock()
			})
			mu.Lock()
			res.Migrations[i] = m
			now[i] = m
			if !g.jsonOut() {
				fmt.Fprintf(g.logw(), "%s\n", gangLine(m))
			}
			mu.Unlock()
		}()
	}
	done := make(chan struct{})
	var reporter sync.WaitGroup
	if !g.jsonOut() {
		reporter.Go(func() {
			tick := time.NewTicker(gangReport)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				mu.Lock()
				line := gangProgress(vms, now)
				mu.Unlock()
				fmt.Fprintln(g.logw(), line)
			}
		})
	}
	wg.Wait()
	close(done)
	reporter.Wait()
	if g.jsonOut() {
		if err := g.printJSON(res); err != nil {
			return err
		}
	} else {
		printGang(g, res)
	}
	return gangOutcome(res, ctx.Err() != nil)
}

// moveOne starts vm's migration in the gang and waits for its end,
// cancelling it if ctx ends first; seen gets each record read meanwhile.
func moveOne(ctx context.Context, g *globals, t *target, req api.MigrateRequest, vm, gang string, seen func(api.Migration)) api.Migration {
	req.VM, req.Gang = vm, gang
	m, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.Migrate(ctx, req)
	})
	if err != nil {
		return api.Migration{VM: vm, From: t.name, To: req.To, State: api.MigrationFailed, Reason: err.Error(), Request: req}
	}
	seen(m)
	for !api.Ended(m.State) {
		select {
		case <-ctx.Done():
			return cancelInterrupted(ctx, g, t, m)
		case <-time.After(gangPoll):
		}
		got, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
			return t.client.GetMigration(ctx, m.ID)
		})
		if err == nil {
			m = got
			seen(m)
		}
	}
	return m
}

// gangReport is how often a gang's progress line is printed while it moves.
const gangReport = 5 * time.Second

// gangProgress is the gang's progress: each VM's state (and percent while
// its memory moves), then how many ended and the bytes QEMU sent so far.
func gangProgress(vms []string, now []api.Migration) string {
	parts := make([]string, len(vms))
	ended := 0
	var sent uint64
	for i, m := range now {
		switch {
		case m.State == "":
			parts[i] = vms[i] + " waiting"
			continue
		case api.Ended(m.State):
			ended++
			parts[i] = vms[i] + " " + m.State
		case m.Progress.Total > 0:
			parts[i] = fmt.Sprintf("%s %s %.0f%%", vms[i], m.State, m.Progress.Percent)
		default:
			parts[i] = vms[i] + " " + m.State
		}
		sent += m.Progress.Transferred
	}
	return fmt.Sprintf("  gang: %s; %d of %d ended, %s sent", strings.Join(parts, ", "), ended, len(vms), fmtBytes(sent))
}

// gangLine is one VM's end, as it happens.
func gangLine(m api.Migration) string {
	s := fmt.Sprintf("  %s: %s", m.VM, m.State)
	if m.ID != "" {
		s += " (" + m.ID + ")"
	}
	if m.State == api.MigrationCompleted {
		s += fmt.Sprintf(", total %s, paused %s, %s on the wire", dur(m.TotalTime), dur(m.Paused), fmtBytes(m.WireBytes))
		if c := m.Codec; c != nil {
			s += fmt.Sprintf(" (QEMU's %s; %d of %d pages as references)", fmtBytes(uint64(c.QEMUBytes)), c.Refs, c.Pages)
		}
	} else if m.Reason != "" {
		s += ": " + m.Reason
	}
	return s
}

// printGang sums the gang up: which VMs moved, the bytes for all.
func printGang(g *globals, r GangResult) {
	var moved, stayed []string
	var wire, qemu, link uint64
	for _, m := range r.Migrations {
		if m.State == api.MigrationCompleted {
			moved = append(moved, m.VM)
		} else {
			stayed = append(stayed, m.VM)
		}
		wire += m.WireBytes
		if c := m.Codec; c != nil {
			qemu, link = qemu+uint64(c.QEMUBytes), link+uint64(c.LinkBytes)
		}
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "gang %s: %d of %d moved to %s", r.Gang, len(moved), len(r.Migrations), r.To)
	if len(moved) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(moved, " "))
	}
	if len(stayed) > 0 {
		fmt.Fprintf(w, "; not moved: %s", strings.Join(stayed, " "))
	}
	fmt.Fprintf(w, "\n  wire bytes: %s", fmtBytes(wire))
	if qemu > 0 {
		fmt.Fprintf(w, " (QEMU's streams %s, sent as %s)", fmtBytes(qemu), fmtBytes(link))
	}
	fmt.Fprintln(w)
}

// gangOutcome is nil only when every VM moved.
func gangOutcome(r GangResult, interrupted bool) error {
	var failed []string
	for _, m := range r.Migrations {
		if m.State != api.MigrationCompleted {
			failed = append(failed, fmt.Sprintf("%s %s", m.VM, m.State))
		}
	}
	switch {
	case len(failed) == 0 && interrupted:
		return fmt.Errorf("interrupted, but every migration of gang %s had completed", r.Gang)
	case len(failed) == 0:
		return nil
	case interrupted:
		return fmt.Errorf("interrupted: gang %s: %s (see above for where each guest runs)", r.Gang, strings.Join(failed, ", "))
	}
	return errors.New("gang " + r.Gang + ": " + strings.Join(failed, ", "))
}
