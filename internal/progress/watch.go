package progress

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/internal/awserr"
)

// maxFailedLooks is how many looks in a row may fail for a passing reason (a dropped
// connection, throttling beyond the SDK's retries) before watching gives up.
const maxFailedLooks = 3

// Watcher shows an execution until it ends.
type Watcher struct {
	Observer *Observer
	Out      io.Writer
	// Live redraws one frame in place (a terminal); otherwise each change is a line of
	// its own (a log, a pipe).
	Live bool
	// Width cuts live lines so the terminal does not wrap them (0: not cut).
	Width    int
	Interval time.Duration
	Now      func() time.Time
}

// Watch looks every Interval until the execution ends or ctx does, and returns the last
// look.
func (w *Watcher) Watch(ctx context.Context) (Snapshot, error) {
	now := w.Now
	if now == nil {
		now = time.Now
	}
	interval := w.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	var (
		last    Snapshot
		drawn   int
		failed  int
		changes = &changeLog{out: w.Out}
	)
	last.ExecutionARN = w.Observer.ExecutionARN
	for {
		s, err := w.Observer.Observe(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return last, ctx.Err()
		case err != nil:
			// What a retry cannot cure (no such execution, access denied) ends it at once.
			failed++
			if failed >= maxFailedLooks || !awserr.IsRetryable(err) {
				return last, err
			}
			s = last
			s.Note = "retrying: " + err.Error()
		default:
			failed = 0
			last = s
		}
		if w.Live {
			drawn = redraw(w.Out, Render(s, w.Width, now()), drawn)
		} else {
			changes.write(s, now())
		}
		if err == nil && s.Ended() {
			return s, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
	}
}

// redraw replaces the previous frame of n lines with lines and returns how many it drew:
// the cursor goes up to the frame's first line, each line is rewritten and cleared to its
// end, and what is left below is cleared.
func redraw(out io.Writer, lines []string, n int) int {
	var b strings.Builder
	if n > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r", n)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	_, _ = io.WriteString(out, b.String())
	return len(lines)
}

// changeLog writes a line for each change: of the execution's status, of a target's status
// or phase, of the counts of a run too large to list.
type changeLog struct {
	out      io.Writer
	started  bool
	status   string
	counts   Counts
	targets  map[int]string
	planning bool
	note     string
}

func (c *changeLog) write(s Snapshot, now time.Time) {
	stamp := now.Format("15:04:05")
	if !c.started {
		c.started = true
		fmt.Fprintf(c.out, "%s watching %s\n", stamp, s.ExecutionARN)
	}
	if s.MapRunARN == "" && !s.Ended() && !c.planning {
		c.planning = true
		fmt.Fprintf(c.out, "%s planning: the planner checks the input and writes the targets\n", stamp)
	}
	if s.Targets != nil {
		if c.targets == nil {
			c.targets = map[int]string{}
		}
		for _, t := range s.Targets {
			key := t.Status + "|" + t.Phase + "|" + t.CompletedBy
			if c.targets[t.Index] != key {
				c.targets[t.Index] = key
				fmt.Fprintf(c.out, "%s %s\n", stamp, Line(t, now))
			}
		}
	}
	if s.MapRunARN != "" && s.Counts != c.counts {
		c.counts = s.Counts
		line := CountsLine(s.Counts)
		if s.Counts.Total >= BarFrom || s.Targets == nil {
			line = Bar(s.Counts) + "  " + line
		}
		fmt.Fprintf(c.out, "%s %s\n", stamp, line)
	}
	if s.Note != c.note {
		c.note = s.Note
		if s.Note != "" {
			fmt.Fprintf(c.out, "%s note: %s\n", stamp, s.Note)
		}
	}
	if s.Status != c.status {
		c.status = s.Status
		if s.Ended() {
			msg := fmt.Sprintf("%s execution %s %s after %s", stamp, s.Name, s.Status, s.Stop.Sub(s.Start).Truncate(time.Second))
			if s.Error != "" {
				msg += ": " + s.Error
			}
			fmt.Fprintln(c.out, msg)
		}
	}
}
