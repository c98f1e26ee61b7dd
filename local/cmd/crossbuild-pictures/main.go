// Command crossbuild-pictures runs one execution on the local runtime and draws what an
// operator would see of it: the source stack's dashboard, each widget from the metrics the
// functions logged, the execution outcomes and the dead-letter queue's depth; and one
// target's X-Ray trace as a timeline. docs/operations.md shows the pictures (make pictures).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/crossbuild/crossbuild/local/demo"
	"github.com/crossbuild/crossbuild/local/pictures"
	"github.com/crossbuild/crossbuild/local/world"
	"github.com/crossbuild/crossbuild/local/xray"
)

// Input runs three targets that end three ways: completed by their build's event, completed
// by polling, and failed (StartBuild refuses a project that does not exist). The failure
// tolerance lets the other two finish and the execution succeed.
const Input = `{
  "failureTolerance": 1,
  "crossAccountTargetRoleArns": [
    {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
     "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1", "SampleValue2": "Value2"},
    {"arn": "arn:aws:iam::333333333333:role/crossbuild-target-role", "region": "us-east-1",
     "codeBuildProject": "sample-codebuild-project", "completion": "poll", "pollIntervalSeconds": 5},
    {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
     "codeBuildProject": "no-such-project", "SampleValue1": "Value1"}
  ]
}`

// Files written into -out.
const (
	DashboardFile = "dashboard.png"
	TraceFile     = "trace.png"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crossbuild-pictures:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		assembly   = flag.String("assembly", "cdk.out", "the synthesized cloud assembly")
		functions  = flag.String("functions", "dist/local", "host builds of the functions: <dir>/<name>/bootstrap")
		out        = flag.String("out", "docs/operations", "folder for "+DashboardFile+" and "+TraceFile)
		record     = flag.String("record", "", "also write what was drawn from (dashboard body, recording, trace) as JSON into this folder")
		logs       = flag.String("logs", "", "folder for every stand-in's and function's log (default .logs/pictures-<time>)")
		period     = flag.Duration("period", 2*time.Second, "the period each widget's statistics are computed over")
		phaseDelay = flag.Duration("phase-delay", time.Second, "how long each build phase lasts")
		timeout    = flag.Duration("timeout", 10*time.Minute, "how long the execution may run")
		from       = flag.String("from", "", "draw from what -record wrote into this folder instead of running the local runtime")
	)
	flag.Parse()
	if *from != "" {
		return redraw(*from, *out, *period)
	}
	*logs = world.LogDir(*logs, "pictures")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("logs: %s\n", *logs)
	w, err := world.Launch(ctx, world.Options{
		Assembly: *assembly, Functions: *functions, LogDir: *logs, PhaseDelay: *phaseDelay,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil {
			fmt.Fprintln(os.Stderr, "crossbuild-pictures: stopping:", cerr)
		}
	}()

	body, err := dashboardBody(w)
	if err != nil {
		return err
	}
	dash, err := pictures.ParseBody(body)
	if err != nil {
		return err
	}
	rec := &recorder{w: w, logDir: *logs}
	if err := rec.watchQueues(ctx, dash); err != nil {
		return err
	}
	rec.start = time.Now()
	res, err := demo.Run(ctx, w, demo.Options{Input: Input, Timeout: *timeout}, os.Stdout)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return errors.New("interrupted; everything was stopped")
		}
		return err
	}
	// The canceller runs on the execution's end event; give it and the last EMF lines a moment.
	time.Sleep(3 * time.Second)
	recording, err := rec.finish(ctx)
	if err != nil {
		return err
	}
	if len(res.Builds) == 0 {
		return errors.New("the execution started no build: no trace to draw")
	}
	b := res.Builds[0]
	root := demo.BuildTrace(ctx, w, b)
	if root == "" {
		return fmt.Errorf("no trace holds build %s", b.ARN)
	}
	trace := w.XRay.Trace(root)

	if err := draw(*out, dash, recording, trace, *period); err != nil {
		return err
	}
	if *record != "" {
		return writeRecord(*record, body, recording, trace)
	}
	return nil
}

// traceTitle heads the trace picture.
const traceTitle = "One target's trace: the starter, the build with one bar per phase, the completion"

// draw writes both pictures into dir.
func draw(dir string, dash pictures.Dashboard, rec pictures.Recording, trace []*xray.Node, period time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var png bytes.Buffer
	drawn, err := pictures.RenderDashboard(&png, dash, rec, period)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, DashboardFile), png.Bytes(), 0o644); err != nil {
		return err
	}
	for _, d := range drawn {
		note := ""
		if d.Note != "" {
			note = " (" + d.Note + ")"
		}
		fmt.Printf("widget %q: %d lines%s\n", d.Title, len(d.Lines), note)
	}
	png.Reset()
	if err := pictures.RenderTrace(&png, traceTitle, trace); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, TraceFile), png.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\n", filepath.Join(dir, DashboardFile), filepath.Join(dir, TraceFile))
	return nil
}

// redraw draws the pictures again from what -record wrote.
func redraw(from, out string, period time.Duration) error {
	body, err := os.ReadFile(filepath.Join(from, "dashboard.json"))
	if err != nil {
		return err
	}
	dash, err := pictures.ParseBody(string(body))
	if err != nil {
		return err
	}
	var rec pictures.Recording
	var trace []*xray.Node
	for name, v := range map[string]any{"recording.json": &rec, "trace.json": &trace} {
		raw, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return draw(out, dash, rec, trace, period)
}

// writeRecord keeps what the pictures were drawn from, as test fixtures.
func writeRecord(dir, body string, rec pictures.Recording, trace []*xray.Node) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]any{"recording.json": rec, "trace.json": trace}
	for name, v := range files {
		raw, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "dashboard.json"), []byte(body+"\n"), 0o644)
}
