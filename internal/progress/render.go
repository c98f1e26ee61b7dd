package progress

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// BarFrom is the smallest run that gets a progress bar; smaller ones are read at a glance.
const BarFrom = 10

const barWidth = 30

// Render returns the lines of one frame: the execution, a progress bar for large runs,
// one line per target when they are listed, counts otherwise, and a note of what could not
// be read. Lines are cut to width (0: not cut), so a terminal never wraps them.
func Render(s Snapshot, width int, now time.Time) []string {
	var lines []string
	head := fmt.Sprintf("execution %s  %s  %s", s.Name, s.Status, elapsed(s.Start, s.Stop, now))
	if s.Error != "" {
		head += "  " + s.Error
	}
	lines = append(lines, head)
	c := s.Counts
	switch {
	case s.MapRunARN == "" && !s.Ended():
		lines = append(lines, "planning: the planner checks the input and writes the targets")
	case s.MapRunARN == "":
		lines = append(lines, "no target ran")
	default:
		if c.Total >= BarFrom || s.Targets == nil {
			lines = append(lines, Bar(c))
		}
		lines = append(lines, CountsLine(c))
	}
	if s.Targets != nil {
		lines = append(lines, table(s.Targets, now)...)
	}
	if s.Note != "" {
		lines = append(lines, "note: "+s.Note)
	}
	if width > 0 {
		for i, l := range lines {
			lines[i] = cut(l, width)
		}
	}
	return lines
}

// Bar draws how many items ended: [#########.....................]  30% 12/40.
func Bar(c Counts) string {
	done := c.Done()
	filled, pct := 0, 0
	if c.Total > 0 {
		filled = done * barWidth / c.Total
		pct = done * 100 / c.Total
	}
	return fmt.Sprintf("[%s%s] %3d%% %d/%d", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), pct, done, c.Total)
}

// CountsLine lists the item counts that are not zero.
func CountsLine(c Counts) string {
	parts := []string{}
	for _, p := range []struct {
		name string
		n    int
	}{{"pending", c.Pending}, {"running", c.Running}, {"succeeded", c.Succeeded}, {"failed", c.Failed},
		{"timed out", c.TimedOut}, {"aborted", c.Aborted}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.n))
		}
	}
	noun := "targets"
	if c.Total == 1 {
		noun = "target"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", c.Total, noun)
	}
	return fmt.Sprintf("%d %s: %s", c.Total, noun, strings.Join(parts, ", "))
}

var columns = []string{"#", "TARGET", "STATUS", "PHASE", "ELAPSED", "COMPLETED BY"}

// table lays the targets out in aligned columns.
func table(ts []Target, now time.Time) []string {
	rows := [][]string{columns}
	for _, t := range ts {
		target := strings.TrimSpace(strings.Join([]string{t.Account, t.Region, t.Project}, " "))
		phase := t.Phase
		if t.Error != "" {
			phase += " (" + t.Error + ")"
		}
		el := "-"
		if d := t.Elapsed(now); d > 0 {
			el = short(d)
		}
		rows = append(rows, []string{strconv.Itoa(t.Index), dash(target), t.Status, phase, el, dash(t.CompletedBy)})
	}
	widths := make([]int, len(columns))
	for _, r := range rows {
		for i, v := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(v))
		}
	}
	out := make([]string, len(rows))
	for j, r := range rows {
		var b strings.Builder
		for i, v := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(v)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v)))
			}
		}
		out[j] = b.String()
	}
	return out
}

// Line is one target on a line of its own, for a log of changes.
func Line(t Target, now time.Time) string {
	target := strings.TrimSpace(strings.Join([]string{t.Account, t.Region, t.Project}, " "))
	s := fmt.Sprintf("#%d %s: %s %s", t.Index, dash(target), t.Status, t.Phase)
	if t.Error != "" {
		s += " (" + t.Error + ")"
	}
	if d := t.Elapsed(now); d > 0 && t.Phase == PhaseDone {
		s += " after " + short(d)
	}
	if t.CompletedBy != "" {
		s += ", completed by " + t.CompletedBy
	}
	return s
}

func elapsed(start, stop, now time.Time) string {
	if start.IsZero() {
		return ""
	}
	if stop.IsZero() {
		stop = now
	}
	return short(stop.Sub(start))
}

// short rounds a duration for reading: tenths of a second under ten seconds, seconds above.
func short(d time.Duration) string {
	if d < 10*time.Second {
		return d.Truncate(100 * time.Millisecond).String()
	}
	return d.Truncate(time.Second).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cut(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	if width <= 1 {
		return string(r[:width])
	}
	return string(r[:width-1]) + "…"
}
