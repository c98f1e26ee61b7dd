// Command crossbuild-scale deploys the synthesized crossbuild app into the local runtime,
// runs one execution of many targets whose builds run nothing, and prints what it measured
// (local/scale). `make bench-scale TARGETS=10000` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/local/scale"
	"github.com/crossbuild/crossbuild/local/world"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-scale:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		assembly    = flag.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions   = flag.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		logs        = flag.String("logs", "", "folder for every stand-in's and function's log (default .logs/scale-<time>)")
		targets     = flag.Int("targets", 500, "how many targets the execution runs")
		concurrency = flag.Int("max-concurrency", 0, "the execution's maxConcurrency (0: the Distributed Map's 10,000)")
		environs    = flag.Int("lambda-concurrency", 8, "execution environments per function")
		phaseDelay  = flag.Duration("phase-delay", 20*time.Millisecond, "how long each build phase lasts")
		timeout     = flag.Duration("timeout", 60*time.Minute, "how long the execution may run")
	)
	flag.Parse()
	*logs = world.LogDir(*logs, "scale")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("logs: %s\n", *logs)
	w, err := world.Launch(ctx, world.Options{
		Assembly: *assembly, Functions: *functions, LogDir: *logs, PhaseDelay: *phaseDelay, Concurrency: *environs, Mutate: scale.NoOpBuilds,
	})
	if err != nil {
		return err
	}
	rep, runErr := scale.Run(ctx, w, scale.Options{Targets: *targets, MaxConcurrency: *concurrency, Timeout: *timeout})
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-scale: stopping:", err)
	}
	if runErr != nil {
		return runErr
	}
	rep.PeakRSSMiB, rep.ChildrenRSSMiB = scale.PeakRSS()
	fmt.Print(rep)
	if rep.Status != "SUCCEEDED" {
		return fmt.Errorf("the execution ended %s (logs in %s)", rep.Status, *logs)
	}
	return nil
}
