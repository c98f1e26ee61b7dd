package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Cell is one (mode, build length, target count) over the repeats.
type Cell struct {
	Mode    Mode
	Length  int // minutes
	Targets int
	// Scaled marks an original cell not run (Matrix.OriginalBudget): its figures per
	// target are those of From targets, its wall time theirs times Targets / From.
	Scaled bool
	From   int
	Runs   int

	P50, P99, Overhead               Spread // seconds, seconds, milliseconds
	Span                             Spread // seconds, as Latency is taken
	EventsPerTarget, TransPerTarget  Spread
	PollsPerTarget                   Spread
	InvocationsPerTarget, BilledMsPT Spread
	GBsPerTarget, BuildEventsPT      Spread
	WritesPT, ReadsPT                Spread
	MaxTargets                       int
	ProxyMsPerInvocation             float64 // the original: median billed ms of one proxy call
}

// Report is a whole benchmark run.
type Report struct {
	Matrix Matrix
	Cells  []Cell
	Took   time.Duration
	Date   string
}

// NewReport aggregates results by cell.
func NewReport(results []Result, m Matrix, took time.Duration) Report {
	rep := Report{Matrix: m, Took: took, Date: time.Now().UTC().Format("2006-01-02")}
	type key struct {
		mode    Mode
		length  int
		targets int
	}
	by := map[key][]Result{}
	for _, r := range results {
		k := key{r.Mode, int(r.Case.BuildLength.Minutes()), r.Targets}
		by[k] = append(by[k], r)
	}
	for _, l := range m.Lengths {
		for _, mode := range Modes {
			for _, n := range m.Targets {
				rs := by[key{mode, l, n}]
				if len(rs) > 0 {
					rep.Cells = append(rep.Cells, cellOf(mode, l, n, rs))
					continue
				}
				// Scale from the largest target count run at this length.
				for i := len(m.Targets) - 1; i >= 0; i-- {
					if src := by[key{mode, l, m.Targets[i]}]; len(src) > 0 && m.Targets[i] < n {
						c := cellOf(mode, l, n, src)
						c.Scaled, c.From = true, m.Targets[i]
						f := float64(n) / float64(m.Targets[i])
						c.Span = Spread{c.Span.Median * f, c.Span.Min * f, c.Span.Max * f}
						rep.Cells = append(rep.Cells, c)
						break
					}
				}
			}
		}
	}
	return rep
}

func cellOf(mode Mode, l, n int, rs []Result) Cell {
	c := Cell{Mode: mode, Length: l, Targets: n, Runs: len(rs)}
	var p50, p99, ov, span, ev, tr, po, inv, ms, gbs, be, wr, rd, maxT, proxy []float64
	for _, r := range rs {
		p50 = append(p50, Percentile(r.Latency, 50))
		p99 = append(p99, Percentile(r.Latency, 99))
		if len(r.Overhead) > 0 {
			ov = append(ov, Percentile(r.Overhead, 50))
		}
		span = append(span, r.Span.Seconds())
		ev = append(ev, r.PerTarget(float64(r.Events)))
		tr = append(tr, r.PerTarget(float64(r.Transitions)))
		po = append(po, r.PerTarget(float64(r.Polls)))
		inv = append(inv, r.PerTarget(float64(r.TotalInvocations())))
		ms = append(ms, r.PerTarget(r.TotalBilledMs()))
		gbs = append(gbs, r.PerTarget(r.GBSeconds))
		be = append(be, r.PerTarget(float64(r.BuildEvents)))
		if mode != Original { // the model uses no DynamoDB; what the endpoint saw meanwhile was the reconciler
			wr = append(wr, r.PerTarget(float64(r.DDBWrites)))
			rd = append(rd, r.PerTarget(float64(r.DDBReads)))
		}
		maxT = append(maxT, float64(r.MaxTargetsPerExecution()))
		if k := r.Invocations[proxyName]; k > 0 {
			proxy = append(proxy, r.BilledMs[proxyName]/float64(k))
		}
	}
	c.P50, c.P99, c.Overhead, c.Span = spreadOf(p50), spreadOf(p99), spreadOf(ov), spreadOf(span)
	c.EventsPerTarget, c.TransPerTarget, c.PollsPerTarget = spreadOf(ev), spreadOf(tr), spreadOf(po)
	c.InvocationsPerTarget, c.BilledMsPT, c.GBsPerTarget = spreadOf(inv), spreadOf(ms), spreadOf(gbs)
	c.BuildEventsPT, c.WritesPT, c.ReadsPT = spreadOf(be), spreadOf(wr), spreadOf(rd)
	c.MaxTargets = int(spreadOf(maxT).Median)
	c.ProxyMsPerInvocation = spreadOf(proxy).Median
	return c
}

// cell finds a cell.
func (r Report) cell(mode Mode, l, n int) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Mode == mode && c.Length == l && c.Targets == n {
			return c, true
		}
	}
	return Cell{}, false
}

// largest is the largest target count of the matrix: per-target figures and costs are
// read there, where the parent execution's fixed cost is spread the thinnest.
func (r Report) largest() int { return r.Matrix.Targets[len(r.Matrix.Targets)-1] }

// Figures returns a cell's per-target medians as cost-model inputs.
func (c Cell) Figures() PerTargetFigures {
	return PerTargetFigures{
		Transitions: c.TransPerTarget.Median, Invocations: c.InvocationsPerTarget.Median,
		GBSeconds: c.GBsPerTarget.Median, CrossAccountEvents: c.BuildEventsPT.Median,
		DDBWrites: zeroNaN(c.WritesPT.Median), DDBReads: zeroNaN(c.ReadsPT.Median),
	}
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// DayLong is the computed 24-hour point of a mode: per-target figures extrapolated from
// the measured cells along the number of polls a day-long build needs.
type DayLong struct {
	Mode                Mode
	Polls               float64
	Events, Transitions float64
	Figures             PerTargetFigures
	MaxTargets          int
	How                 string
	Computed            bool
}

// DayLongPoint computes the 24-hour point of a mode from the cells of the largest target
// count: a least-squares line through (polls per target, figure per target) of every
// measured length, evaluated at the polls a 24-hour build needs.
func (r Report) DayLongPoint(mode Mode) (DayLong, bool) {
	n := r.largest()
	var cells []Cell
	for _, l := range r.Matrix.Lengths {
		if c, ok := r.cell(mode, l, n); ok {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return DayLong{}, false
	}
	d := DayLong{Mode: mode, Computed: true}
	const day = 24 * 3600.0
	switch mode {
	case Event:
		last := cells[len(cells)-1]
		d.Polls, d.Events, d.Transitions, d.Figures = 0, last.EventsPerTarget.Median, last.TransPerTarget.Median, last.Figures()
		// Heartbeats: one callback invocation per phase event, whatever the length.
		d.How = fmt.Sprintf("the %d-minute cell: event completion's figures do not grow with the build's length", last.Length)
		d.MaxTargets = MaxTargets
		return d, true
	case Poll:
		// crossbuild's doubling interval from 20 s, capped at 900 s (internal/polling).
		elapsed, wait := 0.0, 20.0
		for elapsed < day {
			elapsed += wait
			d.Polls++
			wait = math.Min(wait*2, 900)
		}
		d.How = "polls from the doubling interval (20 s doubling to 900 s): " + fmt.Sprint(d.Polls)
	case Original:
		proxyS := cells[len(cells)-1].ProxyMsPerInvocation / 1000
		cycle := 20 + proxyS
		d.Polls = math.Ceil(day / cycle)
		d.How = fmt.Sprintf("one poll per 20 s Wait plus one proxy call (%.0f ms measured): %.0f polls", proxyS*1000, d.Polls)
	default:
		return DayLong{}, false
	}
	x := make([]float64, len(cells))
	for i, c := range cells {
		x[i] = c.PollsPerTarget.Median
	}
	fit := func(get func(Cell) float64) float64 {
		ys := make([]float64, len(cells))
		for i, c := range cells {
			ys[i] = get(c)
		}
		a, b := line(x, ys)
		return a + b*d.Polls
	}
	d.Events = fit(func(c Cell) float64 { return c.EventsPerTarget.Median })
	d.Transitions = fit(func(c Cell) float64 { return c.TransPerTarget.Median })
	d.Figures = PerTargetFigures{
		Transitions: d.Transitions,
		Invocations: fit(func(c Cell) float64 { return c.InvocationsPerTarget.Median }),
		GBSeconds:   fit(func(c Cell) float64 { return c.GBsPerTarget.Median }),
		// CodeBuild's events are forwarded whatever completes the task.
		CrossAccountEvents: fit(func(c Cell) float64 { return c.BuildEventsPT.Median }),
		DDBWrites:          fit(func(c Cell) float64 { return zeroNaN(c.WritesPT.Median) }),
		DDBReads:           fit(func(c Cell) float64 { return zeroNaN(c.ReadsPT.Median) }),
	}
	d.MaxTargets = MaxTargets
	if mode == Original {
		d.MaxTargets = int(math.Floor(HistoryLimit / d.Events))
	}
	return d, true
}

// line fits y = a + b x by least squares (a flat line through the mean for one point).
func line(x, y []float64) (a, b float64) {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return sy / n, 0
	}
	b = (n*sxy - sx*sy) / den
	return (sy - b*sx) / n, b
}

func f1(s Spread) string {
	if math.IsNaN(s.Median) {
		return "–"
	}
	if s.Min == s.Max {
		return trim(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", trim(s.Median), trim(s.Min), trim(s.Max))
}

func trim(v float64) string {
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func scaledMark(c Cell) string {
	if c.Scaled {
		return fmt.Sprintf(" †%d", c.From)
	}
	return ""
}

// Markdown renders the report's tables.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- generated by crossbuild-bench on %s in %s: lengths %v min, targets %v, %d repeats -->\n\n",
		r.Date, r.Took.Round(time.Second), r.Matrix.Lengths, r.Matrix.Targets, r.Matrix.Repeats)

	b.WriteString("### Completion latency and overhead\n\n")
	b.WriteString("Seconds from the build's end to its task closing, median of the runs' p50 and p99 (range over runs); overhead in ms, callback invocation start to SendTaskSuccess accepted (event-completed targets).\n\n")
	b.WriteString("| build | targets | mode | p50 latency, s | p99 latency, s | overhead p50, ms | ratio p50 original / event |\n|---|---|---|---|---|---|---|\n")
	for _, l := range r.Matrix.Lengths {
		for _, n := range r.Matrix.Targets {
			ev, _ := r.cell(Event, l, n)
			for _, mode := range Modes {
				c, ok := r.cell(mode, l, n)
				if !ok {
					continue
				}
				ratio := ""
				if mode == Original && ev.P50.Median > 0 {
					ratio = fmt.Sprintf("%.0f×", c.P50.Median/ev.P50.Median)
				}
				fmt.Fprintf(&b, "| %d min | %d%s | %s | %s | %s | %s | %s |\n", l, n, scaledMark(c), mode, f1(c.P50), f1(c.P99), f1(c.Overhead), ratio)
			}
		}
	}

	fmt.Fprintf(&b, "\n### History, transitions and invocations per target (%d targets)\n\n", r.largest())
	b.WriteString("| build | mode | history events / target | transitions / target | polls / target | Lambda invocations / target | billed ms / target | CodeBuild events delivered / target | DynamoDB writes / reads per target | largest target count per execution | transitions ratio original / event |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Matrix.Lengths {
		ev, _ := r.cell(Event, l, r.largest())
		for _, mode := range Modes {
			c, ok := r.cell(mode, l, r.largest())
			if !ok {
				continue
			}
			ratio := ""
			if mode == Original && ev.TransPerTarget.Median > 0 {
				ratio = fmt.Sprintf("%.1f×", c.TransPerTarget.Median/ev.TransPerTarget.Median)
			}
			fmt.Fprintf(&b, "| %d min | %s%s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", l, mode, scaledMark(c),
				f1(c.EventsPerTarget), f1(c.TransPerTarget), f1(c.PollsPerTarget), f1(c.InvocationsPerTarget), f1(c.BilledMsPT),
				f1(c.BuildEventsPT), f1(c.WritesPT), f1(c.ReadsPT), maxTargets(c.MaxTargets), ratio)
		}
	}
	for _, mode := range Modes {
		if d, ok := r.DayLongPoint(mode); ok {
			fmt.Fprintf(&b, "| 24 h (computed) | %s | %.0f | %.0f | %.0f | %.0f | – | – | – | %s | – |\n", mode, d.Events, d.Transitions, d.Polls, d.Figures.Invocations, maxTargets(d.MaxTargets))
		}
	}
	b.WriteString("\n24-hour rows are computed, not run: ")
	for _, mode := range Modes {
		if d, ok := r.DayLongPoint(mode); ok {
			fmt.Fprintf(&b, "%s: %s; ", mode, d.How)
		}
	}
	b.WriteString("events, transitions and invocations then follow the line fitted through the measured lengths. The fallback is not extrapolated.\n")

	fmt.Fprintf(&b, "\n### Wall time for N targets\n\nSeconds from the execution's start to its end, waits at the state machine's clock and work at the wall clock (as latency); † scaled from the run of that many targets (the original runs one target at a time).\n\n")
	b.WriteString("| build | mode |")
	for _, n := range r.Matrix.Targets {
		fmt.Fprintf(&b, " %d targets |", n)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(r.Matrix.Targets)) + "\n")
	for _, l := range r.Matrix.Lengths {
		for _, mode := range Modes {
			fmt.Fprintf(&b, "| %d min | %s |", l, mode)
			for _, n := range r.Matrix.Targets {
				if c, ok := r.cell(mode, l, n); ok {
					fmt.Fprintf(&b, " %s%s |", f1(c.Span), scaledMark(c))
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}

	fmt.Fprintf(&b, "\n### Cost per 1,000 builds (list prices, us-east-1; per-target figures of %d targets)\n\n", r.largest())
	b.WriteString("| build | mode | Step Functions | Lambda | EventBridge | DynamoDB | total | ratio to event |\n|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Matrix.Lengths {
		ev, _ := r.cell(Event, l, r.largest())
		base := CostPer1000(ev.Figures()).Total()
		for _, mode := range Modes {
			c, ok := r.cell(mode, l, r.largest())
			if !ok {
				continue
			}
			k := CostPer1000(c.Figures())
			fmt.Fprintf(&b, "| %d min | %s | $%.4f | $%.4f | $%.4f | $%.4f | **$%.4f** | %.1f× |\n", l, mode, k.StepFunctions, k.Lambda, k.EventBridge, k.DynamoDB, k.Total(), k.Total()/base)
		}
	}
	for _, mode := range Modes {
		if d, ok := r.DayLongPoint(mode); ok {
			k := CostPer1000(d.Figures)
			fmt.Fprintf(&b, "| 24 h (computed) | %s | $%.4f | $%.4f | $%.4f | $%.4f | **$%.4f** | |\n", mode, k.StepFunctions, k.Lambda, k.EventBridge, k.DynamoDB, k.Total())
		}
	}
	return b.String()
}

func maxTargets(n int) string {
	if n < 1 {
		return "0: one target exceeds 25,000 events"
	}
	if n >= MaxTargets {
		return "10,000 (planner limit)"
	}
	return fmt.Sprintf("%d", n)
}

// sortedLengths returns the matrix's lengths in minutes, ascending.
func (r Report) sortedLengths() []int {
	ls := append([]int(nil), r.Matrix.Lengths...)
	sort.Ints(ls)
	return ls
}

// Saved is a run's raw results, kept next to the plots so the tables can be rendered
// again without running (crossbuild-bench -from).
type Saved struct {
	Matrix     Matrix
	Took       time.Duration
	Results    []Result
	ColdStarts []ColdStart
}
