package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

// migrateOpts are the flags of one "netctl migrate".
type migrateOpts struct {
	req        api.MigrateRequest
	downtime   time.Duration
	completion time.Duration
	detach     bool
	cancelID   string
	resolveID  string // --resolve: settle a migration whose outcome is unknown
	guestOn    string // --guest-on, with --resolve
	verify     verifyOpts
	parallel   int // several VMs (a gang): at most this many at once; 0: all
}

func newMigrateCmd(g *globals) *cobra.Command {
	o := &migrateOpts{}
	cmd := &cobra.Command{
		Use:   "migrate VM [VM...] --to HOST [flags]",
		Short: "Live-migrate a guest to another host, showing progress as it goes",
		Long:  migrateLong,
		Example: `  netctl --host hostA migrate fw1 --to hostB
  netctl --host hostA migrate fw1 --to hostB --verify --report /tmp/r
  netctl --host hostA migrate fw1 --to hostB --bandwidth 256MiB/s --postcopy never --multifd 4
  netctl --host hostB migrate fw1 --to hostA --verify --max-lost 10 --max-gap 500ms -o json
  netctl --host hostA migrate fw1 --to hostB --detach
  netctl --host hostA migrate fw1 fw2 fw3 --to hostB --codec auto --parallel 2
  netctl --host hostA migrate --cancel hostA-3
  netctl --host hostA migrate --resolve hostA-3 --guest-on source`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.cancelID != "" || o.resolveID != "" {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) == 0 {
				return fmt.Errorf("want a VM name: netctl migrate VM [VM...] --to HOST")
			}
			return nil
		},
		RunE: action(func(cmd *cobra.Command, args []string) error {
			o.verify.netnsSet = cmd.Flags().Changed("verify-netns")
			if err := o.verify.needed(cmd.Flags().Changed); err != nil {
				return err
			}
			switch {
			case o.cancelID != "" && o.resolveID != "":
				return usageErrorf("--cancel and --resolve: pick one")
			case o.cancelID != "":
				return runMigrateCancel(cmd.Context(), g, o.cancelID)
			case o.resolveID != "":
				return runMigrateResolve(cmd.Context(), g, o.resolveID, o.guestOn)
			case o.guestOn != "":
				return usageErrorf("--guest-on goes with --resolve")
			}
			if len(args) > 1 || o.parallel != 0 {
				if o.detach {
					return usageErrorf("--detach moves one VM")
				}
				return runMigrateGang(cmd.Context(), g, o, args, o.parallel)
			}
			o.req.VM = args[0]
			return runMigrate(cmd.Context(), g, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.req.To, "to", "", "destination host, e.g. hostB (required)")
	// The defaults shown are api.MigrateRequest's (request fills them in).
	f.Var(rateValue{&o.req.Bandwidth}, "bandwidth",
		fmt.Sprintf("maximum migration bandwidth until the guest stops, bytes/s (default %dGiB/s)", api.DefaultBandwidth>>30))
	f.Var(rateValue{&o.req.InitialBandwidth}, "initial-bandwidth",
		fmt.Sprintf("bandwidth of the first pass, bytes/s (default %dMiB/s)", api.DefaultInitialBandwidth>>20))
	f.DurationVar(&o.downtime, "downtime", time.Duration(api.DefaultDowntimeTarget), "downtime target: the longest pause of the guest to plan for (the record's paused_parts say where a longer one went)")
	f.StringVar(&o.req.Postcopy, "postcopy", api.DefaultPostcopy, "post-copy: auto (when pre-copy does not converge), never (throttle instead) or always")
	f.IntVar(&o.req.MultifdChannels, "multifd", 0,
		fmt.Sprintf("parallel RAM channels (default 0 with post-copy auto/always, %d with never)", api.DefaultMultifdChannels))
	f.DurationVar(&o.completion, "completion-timeout", time.Duration(api.DefaultCompletionTimeout), "limit on the whole migration")
	f.StringVar(&o.req.TimeoutAction, "timeout-action", api.DefaultTimeoutAction, "at the completion timeout: abort (guest stays on the source) or postcopy")
	f.StringVar(&o.req.Codec, "codec", api.DefaultCodec, "how RAM pages travel between the agents: none (QEMU's bytes as they are) or auto (content the destination holds goes as a reference, a page sent again as a delta, the rest zstd-compressed in chunks where that pays: fewer bytes, more CPU)")
	f.StringVar(&o.req.PostcopyPrefetch, "postcopy-prefetch", api.DefaultPostcopyPrefetch, "what the source sends first once post-copy has started: none (QEMU's order: the destination's faults, then its scan) or working-set (the guest's working set, as the source agent knows it, in small chunks ahead of the scan)")
	f.StringVar(&o.req.Pipe, "pipe", api.DefaultPipe, "what carries QEMU's channels between the agents: quic (streams of the agents' QUIC connection) or tcp (TLS lanes over TCP beside the QUIC connection: a third of its CPU per byte)")
	f.IntVar(&o.parallel, "parallel", 0, "with several VMs (a gang): migrate at most this many at once (default: all)")
	f.BoolVar(&o.detach, "detach", false, "start the migration, print its ID and return")
	f.StringVar(&o.cancelID, "cancel", "", "cancel the running migration with this ID instead (see netctl migrations)")
	f.StringVar(&o.resolveID, "resolve", "", "settle the migration with this ID, whose outcome is unknown, as --guest-on says (the destination is asked once more first: its answer wins)")
	f.StringVar(&o.guestOn, "guest-on", "", "with --resolve: where the guest runs: source (the destination does not run it: resume it on the source) or destination (it does: stop the source's paused copy)")
	o.verify.addFlags(f)
	return cmd
}

// request builds the API request from the flags, with defaults filled in.
func (o *migrateOpts) request() (api.MigrateRequest, error) {
	r := o.req
	r.DowntimeTarget = api.Duration(o.downtime)
	r.CompletionTimeout = api.Duration(o.completion)
	r.Defaults()
	if r.To == "" {
		return r, usageErrorf("no destination: give --to HOST, e.g. --to hostB")
	}
	if strings.Contains(r.To, "/") {
		return r, usageErrorf("--to %q: want a host name such as hostB, not a path", r.To)
	}
	if err := r.Validate(); err != nil {
		return r, &ExitError{Code: ExitUsage, Err: err}
	}
	return r, nil
}

// requestFrom is the request and the source agent: the target host,
// which must not be the destination.
func (o *migrateOpts) requestFrom(g *globals) (api.MigrateRequest, *target, error) {
	req, err := o.request()
	if err != nil {
		return req, nil, err
	}
	t, err := g.target()
	if err != nil {
		return req, nil, err
	}
	if req.To == t.name {
		return req, nil, usageErrorf("--to %s is the source host: pick another host", req.To)
	}
	return req, t, nil
}

func runMigrate(ctx context.Context, g *globals, o *migrateOpts) error {
	if err := o.verify.validate(o.detach); err != nil {
		return err
	}
	req, t, err := o.requestFrom(g)
	if err != nil {
		return err
	}
	var vs *verifySession
	if o.verify.on {
		if vs, err = startVerify(ctx, g, t, req.VM, o.verify); err != nil {
			return err
		}
		defer vs.stop()
	}
	m, err := call(ctx, g, t, func(ctx context.Context) (api.Migration, error) {
		return t.client.Migrate(ctx, req)
	})
	if err != nil {
		return fmt.Errorf("migrating %s from %s to %s: %w", req.VM, t.name, req.To, err)
	}
	if o.detach {
		if g.jsonOut() {
			return g.printJSON(m)
		}
		g.infof("migration %s started: %s from %s to %s", m.ID, m.VM, or(m.From, t.name), m.To)
		g.infof(`follow it with "netctl --host %s migrations %s"; cancel it with "netctl --host %s migrate --cancel %s"`,
			t.name, m.ID, t.name, m.ID)
		return nil
	}
	if !g.jsonOut() {
		fmt.Fprintf(g.logw(), "migration %s: %s from %s to %s\n", m.ID, m.VM, or(m.From, t.name), m.To)
	}
	w := newWatcher(g, t)
	if vs != nil {
		w.extra = vs.counters
	}
	m, werr := w.watch(ctx, m)
	interrupted := werr != nil && ctx.Err() != nil
	if interrupted {
		m = cancelInterrupted(ctx, g, t, m)
	} else if werr != nil && !api.Ended(m.State) {
		return werr
	}
	var rep *verifyResult
	if vs != nil {
		rep = vs.finish(ctx, g, t, &m, interrupted)
	}
	if g.jsonOut() {
		if err := g.printJSON(m); err != nil {
			return err
		}
	} else {
		g.printMigration(m)
		rep.print(g)
	}
	if err := migrateOutcome(m, rep, interrupted, t.name, guestAt(ctx, t, m)); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after migration %s completed: the verification was cut short", m.ID)
	}
	return nil
}

// guestAt says where m's guest is after a migration that did not complete
// and did not enter post-copy, as the source agent knows it now: it keeps
// running there, unless its QEMU died or the outcome is unknown.
func guestAt(ctx context.Context, t *target, m api.Migration) string {
	if m.State == api.MigrationCompleted || m.Postcopy || !api.Ended(m.State) {
		return ""
	}
	v, err := t.client.GetVM(context.WithoutCancel(ctx), m.VM)
	switch {
	case err != nil:
		return fmt.Sprintf("%s's state on %s is unknown (%v): check both hosts with \"netctl vm list\"", m.VM, t.name, err)
	case v.State == api.StateRunning && v.Reason == "":
		return fmt.Sprintf("%s keeps running on %s", m.VM, t.name)
	default:
		return fmt.Sprintf("%s is %s on %s: %s", m.VM, v.State, t.name, or(v.Reason, "no reason given"))
	}
}

// migrateOutcome is the error that decides the exit status: nil only when
// the migration completed and any verification passed. guest says where
// the guest of a migration that failed is (guestAt).
func migrateOutcome(m api.Migration, rep *verifyResult, interrupted bool, source, guest string) error {
	switch {
	case interrupted && m.State == api.MigrationCompleted:
		return fmt.Errorf("interrupted, but migration %s had completed before the cancel: %s runs on %s", m.ID, m.VM, m.To)
	case interrupted && !api.Ended(m.State):
		return fmt.Errorf("interrupted: migration %s is still %s: see \"netctl --host %s migrations %s\"", m.ID, m.State, source, m.ID)
	case interrupted:
		return fmt.Errorf("interrupted: migration %s %s; %s", m.ID, m.State, guest)
	case m.State == api.MigrationUnknown:
		return withHint(fmt.Errorf("migration %s: %s", m.ID, or(m.Reason, "outcome unknown")),
			"the source agent keeps asking %s; %s stays paused on %s until it answers. If %s is down for good and you know where the guest runs: "+
				"\"netctl --host %s migrate --resolve %s --guest-on source|destination\"", m.To, m.VM, source, m.To, source, m.ID)
	case m.State != api.MigrationCompleted && m.Postcopy:
		return withHint(fmt.Errorf("migration %s %s during post-copy: %s", m.ID, m.State, or(m.Reason, "no reason given")),
			"post-copy had started, so the guest's state was split between the hosts: check both with \"netctl vm list\"")
	case m.State != api.MigrationCompleted:
		return withHint(fmt.Errorf("migration %s %s: %s", m.ID, m.State, or(m.Reason, "no reason given")), "%s", guest)
	case rep != nil && !rep.pass():
		return errors.New("verification failed: " + rep.why())
	}
	return nil
}
