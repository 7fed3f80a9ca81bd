package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	ExitFailure = 1 // an operation failed (agent unreachable, no such VM, timeout, ...)
	ExitUsage   = 2 // the command line was wrong
)

// ExitError is the error RunWith returns: Err has been reported on stderr,
// Code is the exit status for the process.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the exit status for an error returned by Run: 0 for nil, the
// Code of an *ExitError, 1 for anything else.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

func usageErrorf(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// failed marks err as an operation failure unless it carries a code already.
func failed(err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

func flagError(_ *cobra.Command, err error) error {
	return &ExitError{Code: ExitUsage, Err: err}
}

// hintError adds a line of advice, printed after the message.
type hintError struct {
	err  error
	hint string
}

func (h *hintError) Error() string { return h.err.Error() }
func (h *hintError) Unwrap() error { return h.err }

func withHint(err error, format string, args ...any) error {
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

// report prints err on w as "netctl: <message>", followed by the agent's
// diagnostics (such as QEMU's stderr) and any hint, and returns the
// *ExitError to hand back to the caller. cmd is the command that failed.
func report(w io.Writer, cmd *cobra.Command, err error) error {
	var ee *ExitError
	if !errors.As(err, &ee) {
		ee = &ExitError{Code: ExitUsage, Err: err} // raised by cobra itself
	}
	msg, detail := err.Error(), ""
	var ae *api.Error
	if errors.As(err, &ae) && ae.Detail != "" {
		detail = ae.Detail
		msg = strings.TrimSuffix(msg, "\n"+ae.Detail)
	}
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(w, "netctl: %s\n", msg)
	if detail != "" {
		fmt.Fprintln(w, "agent detail:")
		for _, l := range strings.Split(strings.TrimRight(detail, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	for h := (*hintError)(nil); errors.As(err, &h); err = h.err {
		fmt.Fprintln(w, h.hint)
	}
	if ee.Code == ExitUsage && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee
}
