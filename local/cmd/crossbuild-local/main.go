// Command crossbuild-local deploys the synthesized crossbuild app into local stand-ins for
// AWS and runs one execution of its state machine end to end: the real state machine
// definition, the real Lambda binaries, builds that really run. No AWS account, credentials
// or network is needed. `crossbuild-local serve` deploys it and keeps it running for any
// AWS client instead (serve.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/local/demo"
	"github.com/crossbuild/crossbuild/local/world"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "crossbuild-local serve:", err)
			}
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-local:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		assembly   = flag.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions  = flag.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		logs       = flag.String("logs", "", "folder for every stand-in's and function's log (default .logs/demo-<time>)")
		rie        = flag.String("rie", "", "the Lambda Runtime Interface Emulator binary (default: built into dist/local/bin)")
		inputFile  = flag.String("input", "", "a file with the execution input (default: the walkthrough input, three targets)")
		phaseDelay = flag.Duration("phase-delay", 500*time.Millisecond, "how long each build phase lasts")
		timeout    = flag.Duration("timeout", 10*time.Minute, "how long the execution may run")
		expect     = flag.String("expect", "SUCCEEDED", "the execution status that counts as success (or ANY)")
	)
	flag.Parse()

	input := ""
	if *inputFile != "" {
		raw, err := os.ReadFile(*inputFile)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		input = string(raw)
	}
	*logs = world.LogDir(*logs, "demo")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("logs: %s\n", *logs)
	w, err := world.Launch(ctx, world.Options{
		Assembly: *assembly, Functions: *functions, RIEBinary: *rie, LogDir: *logs, PhaseDelay: *phaseDelay,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil {
			fmt.Fprintln(os.Stderr, "crossbuild-local: stopping:", cerr)
		}
	}()
	fmt.Printf("local AWS on %s: stacks %v\n", w.Endpoint, w.StacksByName())

	res, err := demo.Run(ctx, w, demo.Options{Input: input, Timeout: *timeout}, os.Stdout)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return errors.New("interrupted; everything was stopped")
		}
		return err
	}
	if *expect != "ANY" && res.Status != *expect {
		return fmt.Errorf("the execution ended %s, expected %s (logs in %s)", res.Status, *expect, *logs)
	}
	return nil
}
