package cli

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Env is what one run of netctl sees of the outside world. Tests fill it
// with buffers and a fake environment; Run uses the process's own.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up NFH_HOST and NFH_RUN_DIR; nil means an empty environment.
	Getenv func(string) string
	// Terminal says whether Stderr is a terminal: progress lines are drawn
	// only then.
	Terminal bool
	// Width is the terminal's width in columns; 0 means unknown (80).
	Width int
	// Now is the clock used for uptimes; nil means time.Now.
	Now func() time.Time
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// Run runs netctl with args (without the program name) on the process's
// stdout, stderr and environment. See RunWith.
func Run(ctx context.Context, args []string) error {
	return RunWith(ctx, Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Getenv:   os.Getenv,
		Terminal: isTerminal(os.Stderr),
		Width:    termWidth(os.Stderr),
	}, args)
}

// RunWith runs netctl with args in env. A failure has already been reported
// on env.Stderr as "netctl: <message>" when RunWith returns; the returned
// error is an *ExitError whose Code is the exit status to use (1 for a
// failed operation, 2 for a usage error).
func RunWith(ctx context.Context, env Env, args []string) error {
	g := &globals{env: env}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	return report(env.Stderr, cmd, err)
}

// globals holds the global flags and the environment of one run.
type globals struct {
	env     Env
	host    string
	output  string
	timeout time.Duration
}

const (
	outputTable = "table"
	outputJSON  = "json"
)

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "netctl",
		Short: "Operate nfhandoff agents, their VNF guests and live migrations",
		Long: `netctl drives the nfhandoff agents (migratord), one per host, through the
API socket each agent serves at $NFH_RUN_DIR/<host>/api.sock
(NFH_RUN_DIR defaults to /run/nfhandoff).

Pick the agent with --host (or the NFH_HOST environment variable); when
neither is given and exactly one agent runs, netctl uses that one.
"netctl hosts" lists the agents it can find.

A first session on the testbed (after "testbed/up --agents"):

  netctl hosts
  netctl --host hostA vm start fw1 --ip 198.18.0.100/24 --gw 198.18.0.1 -- --wss 64
  netctl --host hostA vm list
  netctl --host hostA vm status fw1
  netctl --host hostA migrate fw1 --to hostB --verify --report /tmp/r
  netctl --host hostA migrations
  netctl --host hostB vm stop fw1

Every command prints a table by default, or exactly one JSON document (the
API's own types) with -o json. Exit status: 0 on success, 1 when an
operation fails, 2 on a usage error.`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.validate()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.host, "host", g.env.getenv("NFH_HOST"),
		"agent to talk to: a testbed host name (hostA) or an api.sock path (env NFH_HOST)")
	f.StringVarP(&g.output, "output", "o", outputTable, "output format: table or json")
	f.DurationVar(&g.timeout, "timeout", 30*time.Second, "time limit for each request to an agent")
	root.SetFlagErrorFunc(flagError)

	root.AddCommand(
		newHostsCmd(g),
		newHealthCmd(g),
		newVMCmd(g),
		newMigrateCmd(g),
		newEvacuateCmd(g),
		newMigrationsCmd(g),
		newCertsCmd(g),
	)
	return root
}

func (g *globals) validate() error {
	switch g.output {
	case outputTable, outputJSON:
	default:
		return usageErrorf("--output %q: want table or json", g.output)
	}
	if g.timeout <= 0 {
		return usageErrorf("--timeout %v: want a positive duration such as 30s", g.timeout)
	}
	return nil
}

// action adapts a runX function to cobra: errors it returns are operation
// failures (exit 1) unless they already carry an exit code. Errors cobra
// raises on its own (flags, arguments, unknown commands) are usage errors.
func action(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := fn(cmd, args); err != nil {
			return failed(err)
		}
		return nil
	}
}

// group makes cmd a command that only holds subcommands: without arguments
// it prints its help, with an unknown one it fails with a usage error.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	return cmd
}
