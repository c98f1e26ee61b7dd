package faultmatrix

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Table renders results as the Markdown table docs/reliability.md shows: one row per fault
// with the faults injected and the measures. The worst delay of an abort row runs from the
// stop to the last build stopped.
func Table(results []Result) string {
	var b strings.Builder
	b.WriteString("| fault | targets | injected | lost | double | duplicate builds | running after abort | worst delay | closed by poll |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		left := "–"
		if r.LeftRunning >= 0 {
			left = fmt.Sprint(r.LeftRunning)
		}
		fmt.Fprintf(&b, "| %s: %s | %d | %d | %d | %d | %d | %s | %s | %d |\n",
			r.Row.Name, r.Row.Fault, r.Targets, r.Injected, r.Lost, r.Double, r.DuplicateBuilds, left, seconds(r.WorstDelay), r.ByPoll)
	}
	return b.String()
}

// Details renders what each rule injected and the evidence of every broken promise.
func Details(results []Result) string {
	var b strings.Builder
	for _, r := range results {
		verdict := "ok"
		if !r.OK() {
			verdict = "FAILED"
		}
		fmt.Fprintf(&b, "%s: %s, execution %s, %s\n", r.Row.Name, verdict, r.Status, r.Wall.Round(100*time.Millisecond))
		for _, c := range r.Counts {
			fmt.Fprintf(&b, "  %s: %d of %d injected", c.Rule, c.Injected, c.Eligible)
			if c.Missed > 0 {
				fmt.Fprintf(&b, ", %d missed", c.Missed)
			}
			b.WriteByte('\n')
		}
		if len(r.TaskErrors) > 0 {
			names := slices.Sorted(maps.Keys(r.TaskErrors))
			parts := make([]string, len(names))
			for i, n := range names {
				parts[i] = fmt.Sprintf("%s ×%d", n, r.TaskErrors[n])
			}
			fmt.Fprintf(&b, "  task attempts failed: %s\n", strings.Join(parts, ", "))
		}
		for _, e := range r.Evidence {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
	}
	return b.String()
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
