// Command crossbuild-bench deploys the synthesized crossbuild app and a model of the
// original polling pattern into one local world, runs every completion mode side by side
// for several build lengths and target counts, repeats the whole matrix, and writes the
// tables and plots of docs/performance.md (local/bench). `make bench-e2e` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/local/bench"
	"github.com/crossbuild/crossbuild/local/world"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		assembly  = flag.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions = flag.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		root      = flag.String("module", ".", "the repository's root (the proxy of the original's model is built from it)")
		logs      = flag.String("logs", "", "folder for every stand-in's and function's log (default .logs/bench-<time>)")
		out       = flag.String("out", "docs/performance", "folder for the plots and the generated tables (tables.md)")
		lengths   = flag.String("lengths", "1,10,60", "build lengths, minutes")
		targets   = flag.String("targets", "1,10,100", "target counts")
		repeats   = flag.Int("repeats", 3, "runs of the whole matrix")
		budget    = flag.Duration("original-budget", 2*time.Minute, "the original's cells expected to take longer than this (one target at a time) are not run but scaled from its largest run of the same build length")
		heartbeat = flag.Int("heartbeat", 0, "heartbeatSeconds of the fallback mode's targets (0: crossbuild's default, 3600)")
		eventHB   = flag.Int("event-heartbeat", 0, "heartbeatSeconds of the event mode's targets (0: crossbuild's default, 3600)")
		only      = flag.String("modes", "", "the modes to run, comma-separated (default every mode: event,poll,fallback,original)")
		environs  = flag.Int("lambda-concurrency", 8, "execution environments per function")
		cold      = flag.Int("coldstart-samples", 5, "fresh execution environments per function for the cold-start table (0: none)")
		armDist   = flag.String("dist", "dist", "the deployed linux/arm64 builds, for their sizes")
		coldOnly  = flag.Bool("coldstart-only", false, "measure the cold starts only and print their table (nothing is written)")
		from      = flag.String("from", "", "render the tables and plots from a results.json of an earlier run instead of running")
	)
	flag.Parse()
	ls, err := ints(*lengths)
	if err != nil {
		return err
	}
	ts, err := ints(*targets)
	if err != nil {
		return err
	}
	m := bench.Matrix{Lengths: ls, Targets: ts, Repeats: *repeats, OriginalBudget: *budget, HeartbeatSeconds: *heartbeat, EventHeartbeatSeconds: *eventHB}
	for _, f := range strings.FieldsFunc(*only, func(r rune) bool { return r == ',' }) {
		m.Only = append(m.Only, bench.Mode(strings.TrimSpace(f)))
	}
	if *from != "" {
		return render(*from, *out)
	}
	*logs = world.LogDir(*logs, "bench")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	scratch, err := os.MkdirTemp("", "crossbuild-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	proxy, err := bench.BuildProxy(ctx, *root, scratch)
	if err != nil {
		return err
	}
	fmt.Printf("logs: %s\n", *logs)
	probe := bench.NewProbe()
	w, err := world.Launch(ctx, bench.Wire(world.Options{
		Assembly: *assembly, Functions: *functions, LogDir: *logs, Concurrency: *environs,
	}, probe))
	if err != nil {
		return err
	}
	defer func() {
		if err := w.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "crossbuild-bench: stopping:", err)
		}
	}()
	if *coldOnly {
		cs, err := coldStarts(ctx, w, max(*cold, 1), *functions, *root, *armDist)
		if err != nil {
			return err
		}
		fmt.Print(bench.ColdStartTable(cs))
		return nil
	}
	runner, err := bench.NewRunner(ctx, w, probe, proxy, *logs)
	if err != nil {
		return err
	}
	results, err := m.Run(ctx, runner, func(r bench.Result) {
		fmt.Printf("%-8s targets %3d build %2.0f min: %s, wall %s, p50 %.3f s, events/target %.1f, transitions/target %.1f, invocations/target %.1f\n",
			r.Mode, r.Targets, r.Case.BuildLength.Minutes(), r.Status, r.Wall.Round(100*time.Millisecond),
			bench.Percentile(r.Latency, 50), r.PerTarget(float64(r.Events)), r.PerTarget(float64(r.Transitions)), r.PerTarget(float64(r.TotalInvocations())))
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	saved := bench.Saved{Matrix: m, Results: results, Took: time.Since(began)}
	if saved.ColdStarts, err = coldStarts(ctx, w, *cold, *functions, *root, *armDist); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(saved, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.json"), raw, 0o644); err != nil {
		return err
	}
	if err := write(saved, *out); err != nil {
		return err
	}
	fmt.Printf("took %s\n", time.Since(began).Round(time.Second))
	return nil
}

func coldStarts(ctx context.Context, w *world.World, samples int, functions, root, armDist string) ([]bench.ColdStart, error) {
	if samples <= 0 {
		return nil, nil
	}
	return bench.MeasureColdStarts(ctx, w, functions, root, armDist, samples)
}

// render writes the tables and plots of an earlier run.
func render(from, out string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	var saved bench.Saved
	if err := json.Unmarshal(raw, &saved); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	return write(saved, out)
}

// write renders tables.md and the plots into out.
func write(saved bench.Saved, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	rep := bench.NewReport(saved.Results, saved.Matrix, saved.Took)
	if err := rep.Plots(out); err != nil {
		return err
	}
	tables := rep.Markdown()
	if len(saved.ColdStarts) > 0 {
		tables += "\n### Cold start under the Runtime Interface Emulator\n\n" + bench.ColdStartTable(saved.ColdStarts)
	}
	if err := os.WriteFile(filepath.Join(out, "tables.md"), []byte(tables), 0o644); err != nil {
		return err
	}
	fmt.Print(tables)
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
