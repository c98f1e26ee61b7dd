package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/bench"
	"github.com/crossbuild/crossbuild/local/world"
)

// TestBenchSmoke runs the performance benchmark's smallest matrix (`make bench-e2e`,
// docs/performance.md): one target with a one-minute build in every mode, the original's
// model included, and renders its tables and plots, so the benchmark cannot rot. The
// fallback's heartbeat is the smallest a target may ask for, to keep it short.
func TestBenchSmoke(t *testing.T) {
	needRuntime(t)
	proxy, err := bench.BuildProxy(t.Context(), filepath.Join("..", ".."), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	probe := bench.NewProbe()
	tw := startWorld(t, bench.Wire(world.Options{}, probe))
	runner, err := bench.NewRunner(t.Context(), tw.World, probe, proxy, tw.logDir)
	if err != nil {
		t.Fatal(err)
	}
	m := bench.Matrix{Lengths: []int{1}, Targets: []int{1}, Repeats: 1, HeartbeatSeconds: 60}
	began := time.Now()
	results, err := m.Run(t.Context(), runner, nil)
	if err != nil {
		t.Fatal(err)
	}
	by := map[bench.Mode]bench.Result{}
	for _, r := range results {
		by[r.Mode] = r
	}
	for _, mode := range bench.Modes {
		r, ok := by[mode]
		switch {
		case !ok:
			t.Errorf("%s: not run", mode)
		case len(r.Latency) != 1 || r.Transitions == 0 || r.TotalInvocations() == 0:
			t.Errorf("%s: %d latencies, %d transitions, %d invocations; want 1 and some", mode, len(r.Latency), r.Transitions, r.TotalInvocations())
		}
	}
	ev, orig := by[bench.Event], by[bench.Original]
	if len(ev.Overhead) != 1 {
		t.Errorf("event completion: %d overheads measured, want 1", len(ev.Overhead))
	}
	if bench.Percentile(ev.Latency, 50) >= bench.Percentile(orig.Latency, 50) {
		t.Errorf("event completion closed %v s after the build, the original %v s: want event first", ev.Latency, orig.Latency)
	}
	if ev.Events >= orig.Events {
		t.Errorf("history events: event completion %d, the original %d: want fewer", ev.Events, orig.Events)
	}
	if orig.Invocations["crossbuild-callback"] > 0 || orig.DDBWrites > 0 {
		t.Errorf("the original's run counted crossbuild's work: %v, %d writes", orig.Invocations, orig.DDBWrites)
	}
	rep := bench.NewReport(results, m, time.Since(began))
	dir := t.TempDir()
	if err := rep.Plots(dir); err != nil {
		t.Fatal(err)
	}
	for _, png := range []string{"latency.png", "transitions.png", "cost.png", "wall.png"} {
		if info, err := os.Stat(filepath.Join(dir, png)); err != nil || info.Size() == 0 {
			t.Errorf("plot %s: %v", png, err)
		}
	}
	md := rep.Markdown()
	for _, want := range []string{"| 1 min | 1 | original |", "Cost per 1,000 builds", "24 h (computed)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the tables lack %q:\n%s", want, md)
		}
	}
	cs, err := bench.MeasureColdStarts(t.Context(), tw.World, os.Getenv(envFunctions), moduleRoot(t), t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) < 2 || cs[0].Function != "minimal" {
		t.Fatalf("cold starts %+v: want the minimal function first, then crossbuild's", cs)
	}
	for _, c := range cs {
		if c.Init <= 0 || c.Ratio <= 0 || c.Bytes == 0 {
			t.Errorf("cold start of %s: %+v", c.Function, c)
		}
	}
	t.Logf("benchmark smoke in %s:\n%s\n%s", time.Since(began).Round(time.Millisecond), md, bench.ColdStartTable(cs))
}
