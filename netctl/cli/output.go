package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// jsonOut reports whether -o json was asked for.
func (g *globals) jsonOut() bool { return g.output == outputJSON }

// printJSON writes v as the one JSON document of the run's stdout.
func (g *globals) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding json: %w", err)
	}
	_, err = fmt.Fprintf(g.env.Stdout, "%s\n", b)
	return err
}

// infof prints a line meant for people on stdout; with -o json it prints
// nothing, so that stdout holds exactly the one JSON document.
func (g *globals) infof(format string, args ...any) {
	if !g.jsonOut() {
		fmt.Fprintf(g.env.Stdout, format+"\n", args...)
	}
}

// warnf prints "netctl: warning: ..." on stderr, whatever the output format.
func (g *globals) warnf(format string, args ...any) {
	fmt.Fprintf(g.env.Stderr, "netctl: warning: "+format+"\n", args...)
}

// newTable returns a tabwriter for column output; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

// fmtDuration prints d compactly for a table: 850ms, 4.2s, 3m12s, 2h03m, 3d04h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// or returns s, or alt when s is empty.
func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
