// Command fault injects the faults the integration tests inject, into a
// running testbed (testbed/up --agents), for an operator to watch what the
// agents do: cut and restore the agents' path between two hosts, kill or
// restart an agent, kill a guest's QEMU; each at once or when a migration
// reaches a named phase.
//
//	go run ./testbed/fault [--at PHASE --vm VM [--source HOST]] ACTION ARGS...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nfhandoff/nfhandoff/testbed"
)

const usage = `Usage: go run ./testbed/fault [flags] ACTION ARGS...

Actions:
  cut A B            silently drop the agents' traffic (QUIC and lanes) between hosts A and B
                     on the switch
  restore A B        undo cut A B; prints how many packets the cut dropped
  kill-agent HOST    SIGKILL HOST's migratord
  restart-agent HOST SIGTERM HOST's migratord (a graceful restart), then start it again
  start-agents       start every agent of the testbed that is not running
  kill-qemu HOST VM  SIGKILL the QEMU that runs VM on HOST

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	at := fs.String("at", "", fmt.Sprintf("wait until the migration of --vm reaches this phase first: %v", testbed.Phases))
	vm := fs.String("vm", "", "the VM whose migration --at watches")
	source := fs.String("source", "", "the host migrating --vm away (default: the action's first host)")
	hold := fs.Duration("for", 0, "with cut: restore the path after this long (0: leave it cut)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up waiting for --at after this long")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := testbed.FindEnv()
	if err != nil {
		return err
	}
	act := fs.Args()
	if len(act) == 0 {
		fs.Usage()
		return errors.New("no action")
	}
	want := map[string]int{"cut": 2, "restore": 2, "kill-agent": 1, "restart-agent": 1, "start-agents": 0, "kill-qemu": 2}
	n, ok := want[act[0]]
	if !ok || len(act)-1 != n {
		fs.Usage()
		return fmt.Errorf("%s: wrong action or number of arguments", strings.Join(act, " "))
	}
	if *at != "" {
		p, err := testbed.ParsePhase(*at)
		if err != nil {
			return err
		}
		src := *source
		if src == "" && n > 0 {
			src = act[1]
		}
		if *vm == "" || src == "" {
			return errors.New("--at needs --vm (and --source for this action)")
		}
		wctx, cancel := context.WithTimeout(ctx, *timeout)
		m, err := env.WaitPhase(wctx, src, *vm, p)
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s reached %s\n", m.ID, *vm, p)
	}
	switch act[0] {
	case "cut":
		if err := env.CutPath(ctx, act[1], act[2]); err != nil {
			return err
		}
		fmt.Fprintf(out, "cut the agents' path between %s and %s\n", act[1], act[2])
		if *hold <= 0 {
			return nil
		}
		select {
		case <-time.After(*hold):
		case <-ctx.Done(): // interrupted: restore all the same
		}
		fallthrough
	case "restore":
		dropped, err := env.RestorePath(context.WithoutCancel(ctx), act[1], act[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "restored the agents' path between %s and %s; the cut dropped %d packets\n", act[1], act[2], dropped)
	case "kill-agent":
		if err := env.StopAgent(ctx, act[1], syscall.SIGKILL); err != nil {
			return err
		}
		fmt.Fprintf(out, "killed %s's agent\n", act[1])
	case "restart-agent":
		if err := env.StopAgent(ctx, act[1], syscall.SIGTERM); err != nil {
			return err
		}
		fallthrough
	case "start-agents":
		if err := env.StartAgents(ctx); err != nil {
			return err
		}
		fmt.Fprintln(out, "agents running")
	case "kill-qemu":
		pid, err := env.KillQEMU(ctx, act[1], act[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "killed %s's QEMU (pid %d) on %s\n", act[2], pid, act[1])
	}
	return nil
}
