package xray

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// A build's documents sent the way the functions send them, with a duplicate, a late
// in-progress copy and a phase reported twice, assemble into one build with its phases
// and its completion under the starter's invocation.
func TestTraceAssemblesABuildUnderItsStarter(t *testing.T) {
	d, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	exp, err := tracing.DialExporter(d.Address())
	if err != nil {
		t.Fatal(err)
	}
	p := tracing.NewProvider(exp, "crossbuild-starter")
	began := time.Now().Add(-time.Minute).Truncate(time.Second)
	root := recentRoot(began)
	header := "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"
	tg := buildtrace.Target{TraceID: root, BuildARN: "arn:aws:codebuild:eu-west-1:222222222222:build/p:1",
		Account: "222222222222", Region: "eu-west-1", Project: "p"}
	b := outcome.Build{ARN: tg.BuildARN, ID: "p:1", Project: "p", Account: tg.Account, Region: tg.Region,
		Status: outcome.StatusFailed, FailedPhase: "BUILD", Start: began, End: began.Add(40 * time.Second),
		Phases: []outcome.Phase{
			{Name: "SUBMITTED", Status: "SUCCEEDED", Start: began, End: began},
			{Name: "PROVISIONING", Status: "SUCCEEDED", Start: began, End: began.Add(20 * time.Second)},
			{Name: "BUILD", Status: "FAILED", Start: began.Add(20 * time.Second), End: began.Add(40 * time.Second)},
			{Name: "COMPLETED", Start: began.Add(40 * time.Second)},
		}}
	closed := buildtrace.Closed{By: "event", Path: "event", Operation: "SendTaskFailure", At: began.Add(41 * time.Second)}
	invoke := func(name string, fn func(ctx context.Context) error) {
		t.Helper()
		h := tracing.Wrap(p, name, func(ctx context.Context, _ int) (int, error) { return 0, fn(ctx) })
		ctx := context.WithValue(context.Background(), "x-amzn-trace-id", header) //nolint:staticcheck // the key aws-lambda-go uses
		if _, err := h(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
	invoke("starter", func(ctx context.Context) error {
		tg.Parent = tracing.ParentID(ctx)
		return tracing.Emit(ctx, buildtrace.Started(tg, began)...)
	})
	early := b
	early.Phases = b.Phases[:2]
	docs := buildtrace.Phases(tg, early)                                   // a phase change event
	docs = append(docs, buildtrace.Finished(tg, b)...)                     // the terminal event
	docs = append(docs, buildtrace.Completion(tg, b, closed)...)           // the accepted send
	docs = append(docs, buildtrace.Finished(tg, b)...)                     // its duplicate
	docs = append(docs, buildtrace.Started(tg, began.Add(time.Second))...) // a late in-progress copy
	invoke("callback", func(ctx context.Context) error { return tracing.Emit(ctx, docs...) })

	deadline := time.Now().Add(5 * time.Second)
	for len(d.Segments()) < 2+len(docs) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	roots := d.Trace(root)
	var starters []*Node
	for _, r := range roots {
		if r.Name == "starter" {
			starters = append(starters, r)
		}
	}
	if len(starters) != 1 {
		t.Fatalf("roots %+v", roots)
	}
	inv := starters[0]
	if len(inv.Children) != 1 || inv.Children[0].Origin != buildtrace.Origin {
		t.Fatalf("under the starter: %+v", inv.Children)
	}
	build := inv.Children[0]
	if build.InProgress || build.Name != "p" || build.Annotations["build_status"] != "FAILED" || !build.Error ||
		build.AWS.AccountID != "222222222222" || build.EndTime-build.StartTime != 40 {
		t.Errorf("build %+v", build.Segment)
	}
	var names []string
	for _, c := range build.Children {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "SUBMITTED,PROVISIONING,BUILD,completion" {
		t.Errorf("under the build: %v", names)
	}
	if c := build.Children[3]; c.AWS.Operation != "SendTaskFailure" || c.Annotations["completed_by"] != "event" || c.EndTime-c.StartTime != 1 {
		t.Errorf("completion %+v", c.Segment)
	}

	var out strings.Builder
	Timeline(&out, roots, 40)
	text := out.String()
	t.Log("\n" + text)
	for _, want := range []string{"starter", "  p [AWS::CodeBuild::Project] FAILED (error)", "    BUILD (error)", "    completion SendTaskFailure event", "█", "▒"} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n")[1:] {
		if bar := strings.Count(line, "|"); bar != 2 {
			t.Errorf("line without one bar: %q", line)
		}
	}
}
