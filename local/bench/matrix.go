package bench

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// Matrix is every case of one benchmark run: each mode for each build length and target
// count, the whole matrix Repeats times, all modes of a cell one after the other so
// their ratios hold on a noisy machine.
type Matrix struct {
	Lengths []int // build lengths, minutes
	Targets []int
	Repeats int
	// OriginalBudget bounds the wall time of one run of the original's model, which runs
	// its targets one at a time: a cell expected to take longer is not run, and the report
	// scales it from the largest run of the same build length.
	OriginalBudget   time.Duration
	HeartbeatSeconds int // the fallback mode's heartbeatSeconds; 0: crossbuild's default
	// EventHeartbeatSeconds is the event mode's heartbeatSeconds; 0: crossbuild's default.
	// With the default 3600, a build phase longer than an hour sends no event for an hour
	// and the task falls back to polling.
	EventHeartbeatSeconds int
	Only                  []Mode // the modes to run; none: every mode
}

// modes returns the modes the matrix runs.
func (m Matrix) modes() []Mode {
	if len(m.Only) > 0 {
		return m.Only
	}
	return Modes
}

// expected is a case's wall time on this machine, roughly.
func expected(c Case) time.Duration {
	per := c.BuildLength/TimeScale + 2*time.Second
	switch c.Mode {
	case Original:
		return time.Duration(c.Targets) * (per + 20*time.Second/TimeScale)
	case Fallback:
		hb := c.HeartbeatSeconds
		if hb == 0 {
			hb = 3600
		}
		return per + time.Duration(hb)*time.Second/TimeScale + time.Duration(c.Targets)*50*time.Millisecond
	}
	return per + time.Duration(c.Targets)*50*time.Millisecond
}

// Runs reports whether the matrix runs a case (the original's long cells are scaled).
func (m Matrix) Runs(c Case) bool {
	return c.Mode != Original || m.OriginalBudget <= 0 || expected(c) <= m.OriginalBudget || c.Targets == m.Targets[0]
}

// Run runs the matrix; each result goes to progress as it comes.
func (m Matrix) Run(ctx context.Context, r *Runner, progress func(Result)) ([]Result, error) {
	var out []Result
	for rep := 0; rep < max(m.Repeats, 1); rep++ {
		for _, l := range m.Lengths {
			for _, n := range m.Targets {
				for _, mode := range m.modes() {
					c := Case{Mode: mode, Targets: n, BuildLength: time.Duration(l) * time.Minute}
					switch mode {
					case Fallback:
						c.HeartbeatSeconds = m.HeartbeatSeconds
					case Event:
						c.HeartbeatSeconds = m.EventHeartbeatSeconds
					}
					if !m.Runs(c) {
						continue
					}
					res, err := r.Run(ctx, c, 2*expected(c)+2*time.Minute)
					if err != nil {
						return out, fmt.Errorf("%s, %d targets, %d min builds: %w", mode, n, l, err)
					}
					if res.Status != "SUCCEEDED" || len(res.Latency) != n {
						return out, fmt.Errorf("%s, %d targets, %d min builds: the execution ended %s with %d of %d targets closed",
							mode, n, l, res.Status, len(res.Latency), n)
					}
					out = append(out, res)
					if progress != nil {
						progress(res)
					}
				}
			}
		}
	}
	return out, nil
}

// Percentile returns the p-th percentile of xs (nearest rank); NaN for none.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Spread is the median and the range of one figure over the repeats.
type Spread struct{ Median, Min, Max float64 }

func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{med, s[0], s[len(s)-1]}
}
