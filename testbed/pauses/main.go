// Command pauses tallies the guests' pauses that the integration tests
// recorded (testbed.PauseLogEnv): in how many completed moves the guest
// was paused no longer than the move's downtime target, pre-copy and
// post-copy apart, and the moves over it with where their pause went.
//
//	go run ./testbed/pauses build/pauses.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nfhandoff/nfhandoff/migrator/api"
	"github.com/nfhandoff/nfhandoff/testbed"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pauses FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "pauses:", err)
		os.Exit(1)
	}
	defer f.Close()
	if err := tally(f, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pauses:", err)
		os.Exit(1)
	}
}

type count struct{ within, all int }

func (c count) String() string {
	if c.all == 0 {
		return "none"
	}
	return fmt.Sprintf("%d of %d (%.1f%%)", c.within, c.all, 100*float64(c.within)/float64(c.all))
}

func tally(r io.Reader, w io.Writer) error {
	var pre, post count
	var over, held []testbed.PauseEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e testbed.PauseEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %q: %w", sc.Text(), err)
		}
		if e.Target == 0 {
			e.Target = api.DefaultDowntimeTarget
		}
		if e.Held > 0 {
			// A test's knob held the guest stopped (to land a fault in
			// the hand-off's BUFFER): the pause is the test's, not the
			// agent's choice against its target.
			held = append(held, e)
			continue
		}
		c := &pre
		if e.Postcopy {
			c = &post
		}
		c.all++
		if e.Paused <= e.Target {
			c.within++
		} else {
			over = append(over, e)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	all := count{pre.within + post.within, pre.all + post.all}
	fmt.Fprintf(w, "guest paused <= its downtime target: %s of the integration tests' completed moves (pre-copy %s, post-copy %s)\n", all, pre, post)
	for _, e := range over {
		fmt.Fprintf(w, "  over: %s %s (%s) paused %s, target %s: %s\n", e.Test, e.ID, kind(e.Postcopy),
			time.Duration(e.Paused).Round(100*time.Microsecond), time.Duration(e.Target), e.Parts)
	}
	if len(held) > 0 {
		fmt.Fprintf(w, "not counted: %d moves whose guest a test held stopped (--debug-switchover-delay)\n", len(held))
	}
	for _, e := range held {
		fmt.Fprintf(w, "  held: %s %s (%s) paused %s, %s of it held: %s\n", e.Test, e.ID, kind(e.Postcopy),
			time.Duration(e.Paused).Round(100*time.Microsecond), time.Duration(e.Held).Round(100*time.Microsecond), e.Parts)
	}
	return nil
}

func kind(postcopy bool) string {
	if postcopy {
		return "post-copy"
	}
	return "pre-copy"
}
