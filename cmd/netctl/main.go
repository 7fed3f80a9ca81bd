// Command netctl is the operator CLI for nfhandoff: it drives the migratord
// agents of a testbed: VNF guests and their live migrations. See package
// netctl/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nfhandoff/nfhandoff/netctl/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:])
	stop()
	os.Exit(cli.ExitCode(err))
}
