// Command crossbuild-faults deploys the synthesized crossbuild app into the local runtime
// and runs the fault matrix (local/faultmatrix): each fault of docs/reliability.md over one
// execution of many targets. It prints the table and, per row, what was injected and the
// evidence of every broken promise, and exits non-zero when a row lost, doubled or
// duplicated a completion or left a build running after an abort. `make faults` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/local/faultmatrix"
	"github.com/crossbuild/crossbuild/local/faults"
	"github.com/crossbuild/crossbuild/local/world"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-faults:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		assembly  = flag.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions = flag.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		logs      = flag.String("logs", "", "folder for every stand-in's and function's log (default .logs/faults-<time>)")
		targets   = flag.Int("targets", 30, "targets of each row's execution")
		seed      = flag.Int64("seed", 1, "seed of the faults' choices")
		rows      = flag.String("rows", "", "comma-separated row names to run (default every row)")
		environs  = flag.Int("lambda-concurrency", 4, "execution environments per function")
	)
	flag.Parse()
	selected, err := selectRows(*rows)
	if err != nil {
		return err
	}
	*logs = world.LogDir(*logs, "faults")
	if err := os.MkdirAll(*logs, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logFile, err := os.Create(filepath.Join(*logs, "faults.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	inj := faults.New(faults.Options{Logger: slog.New(slog.NewJSONHandler(logFile, nil))})
	fmt.Printf("logs: %s\n", *logs)
	w, err := world.Launch(ctx, faultmatrix.Wire(world.Options{
		Assembly: *assembly, Functions: *functions, LogDir: *logs, Concurrency: *environs,
	}, inj))
	if err != nil {
		return err
	}
	results, runErr := runRows(ctx, w, inj, selected, faultmatrix.Options{Targets: *targets, Seed: *seed})
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-faults: stopping:", err)
	}
	fmt.Printf("\n%d targets a row, seed %d, time scale %d\n\n%s\n%s", *targets, *seed, faultmatrix.TimeScale,
		faultmatrix.Table(results), faultmatrix.Details(results))
	if runErr != nil {
		return runErr
	}
	var failed []string
	for _, r := range results {
		if !r.OK() {
			failed = append(failed, r.Row.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("rows that broke a promise: %s (logs in %s)", strings.Join(failed, ", "), *logs)
	}
	return nil
}

func runRows(ctx context.Context, w *world.World, inj *faults.Injector, rows []faultmatrix.Row, opts faultmatrix.Options) ([]faultmatrix.Result, error) {
	runner, err := faultmatrix.NewRunner(w, inj, opts)
	if err != nil {
		return nil, err
	}
	var results []faultmatrix.Result
	for _, row := range rows {
		fmt.Printf("%-26s ", row.Name)
		res, err := runner.Run(ctx, row)
		results = append(results, res)
		if err != nil {
			fmt.Println("error")
			return results, fmt.Errorf("row %s: %w", row.Name, err)
		}
		verdict := "ok"
		if !res.OK() {
			verdict = "FAILED"
		}
		fmt.Printf("%-6s %d faults injected, %s\n", verdict, res.Injected, res.Wall.Round(100*time.Millisecond))
	}
	return results, nil
}

func selectRows(names string) ([]faultmatrix.Row, error) {
	all := faultmatrix.Rows()
	if names == "" {
		return all, nil
	}
	var out []faultmatrix.Row
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(all, func(r faultmatrix.Row) bool { return r.Name == strings.TrimSpace(name) })
		if i < 0 {
			known := make([]string, len(all))
			for j, r := range all {
				known[j] = r.Name
			}
			return nil, errors.New("no row " + name + "; rows: " + strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
