package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/migrator/vm/qmpcmd"
)

// Action kinds.
const (
	// KindBandwidth: raise the cap to Action.Bandwidth. The session paces
	// its pipe at it; Apply sets QEMU's max-bandwidth (for a caller that
	// does not pace).
	KindBandwidth = "bandwidth"
	KindPostcopy  = "postcopy" // migrate-start-postcopy
	KindThrottle  = "throttle" // throttle the guest's CPU to Action.Throttle percent
	KindAbort     = "abort"    // migrate_cancel: the guest keeps running on the source
	// KindSwitchover (Config.AgentSwitchover only): stop the guest now, the
	// rest fits the downtime target. The session carries it out (the
	// hand-off first quiesces the guest's tap); Apply runs QMP stop.
	KindSwitchover = "switchover"
	// KindNote changes nothing; it records a decision not to act (e.g. the
	// completion timeout reached in post-copy, where aborting would lose
	// the guest). Apply does nothing for it.
	KindNote = "note"
)

// Action is one decision of the policy.
type Action struct {
	Kind      string
	Bandwidth uint64 // bytes/s, for KindBandwidth
	Throttle  int    // percent, for KindThrottle
	Reason    string // with the numbers that led to it
}

// Decision is the action as the migration's record keeps it.
func (a Action) Decision(at time.Time, pass int) api.Decision {
	d := api.Decision{At: at, Pass: pass, Action: a.Kind, Reason: a.Reason}
	switch a.Kind {
	case KindBandwidth:
		d.Value = rate(a.Bandwidth)
	case KindThrottle:
		d.Value = fmt.Sprintf("%d%%", a.Throttle)
	}
	return d
}

// Executor runs one QMP command; *vm.Instance satisfies it.
type Executor interface {
	Execute(ctx context.Context, cmd string, args, out any) error
}

// Apply carries out an action on the source QEMU.
func Apply(ctx context.Context, ex Executor, a Action) error {
	var err error
	switch a.Kind {
	case KindBandwidth:
		err = ex.Execute(ctx, qmpcmd.MigrateSetParameters, qmpcmd.Parameters{MaxBandwidth: new(a.Bandwidth)}, nil)
	case KindPostcopy:
		err = ex.Execute(ctx, qmpcmd.MigrateStartPostcopy, nil, nil)
	case KindThrottle:
		err = ex.Execute(ctx, qmpcmd.MigrateSetParameters, ThrottleParameters(a.Throttle), nil)
	case KindAbort:
		err = ex.Execute(ctx, qmpcmd.MigrateCancel, nil, nil)
	case KindSwitchover:
		err = ex.Execute(ctx, qmpcmd.Stop, nil, nil)
	case KindNote:
		return nil
	default:
		return fmt.Errorf("applying policy action: unknown kind %q", a.Kind)
	}
	if err != nil {
		return fmt.Errorf("applying %s: %w", a.Kind, err)
	}
	return nil
}

// ThrottleParameters make QEMU 7.2's auto-converge throttle the guest's
// CPU to pct percent (1..99) within its next two dirty-sync periods: the
// first throttle (initial) and every increase are clamped to pct, and a
// threshold of 1% makes any dirtying trigger it. auto-converge must have
// been enabled before migrate (see Capabilities).
func ThrottleParameters(pct int) qmpcmd.Parameters {
	pct = min(max(pct, 1), 99)
	return qmpcmd.Parameters{CPUThrottleInitial: new(pct), CPUThrottleIncrement: new(pct),
		MaxCPUThrottle: new(pct), ThrottleTriggerThreshold: new(1)}
}

// mib formats bytes in MiB (GiB from 10 GiB up).
func mib(b uint64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// rate formats bytes/s.
func rate(b uint64) string { return mib(b) + "/s" }
