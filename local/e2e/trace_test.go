package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/tracing"
	"github.com/crossbuild/crossbuild/local/demo"
	"github.com/crossbuild/crossbuild/local/world"
	"github.com/crossbuild/crossbuild/local/xray"
)

// What an operator finds in X-Ray after a run like the demo's: for every target, the
// execution's trace (the child execution's, under the Distributed Map) holds the starter
// that started the build, the build under it with one subsegment per phase and the
// completion of its task, whichever path completed it; every AWS call span of the real
// functions names its service and operation; and the demo ends with that trace drawn.
func TestOneTracePerTarget(t *testing.T) {
	tw := startWorld(t, world.Options{TimeScale: 30, PhaseDelay: 50 * time.Millisecond, Mutate: addBuildHooks})
	input := `{"crossAccountTargetRoleArns": [
	  {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
	   "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1"},
	  {"arn": "arn:aws:iam::333333333333:role/crossbuild-target-role", "region": "us-east-1",
	   "codeBuildProject": "sample-codebuild-project", "completion": "poll", "pollIntervalSeconds": 5},
	  {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
	   "codeBuildProject": "sample-codebuild-project", "` + varFail + `": "yes"}],
	 "failureTolerance": 1}`
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := demo.Run(ctx, tw.World, demo.Options{Input: input, Name: "traced", Poll: 20 * time.Millisecond}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if res.Status != "SUCCEEDED" || len(res.Builds) != 3 {
		t.Fatalf("status %s, %d builds\n%s", res.Status, len(res.Builds), out.String())
	}
	tw.settle(t)

	want := map[string]struct{ status, by, path string }{
		"0": {"SUCCEEDED", "event", "event"},
		"1": {"SUCCEEDED", "poll", "poll"},
		"2": {"FAILED", "event", "event"}, // a failed build's task is closed with SendTaskFailure
	}
	for _, b := range res.Builds {
		index := envOf(b, "CROSSBUILD_MAP_INDEX")
		w := want[index]
		rec := tw.tokenRecord(t, b.ARN)
		if rec["traceId"] == "" || rec["traceParent"] == "" {
			t.Errorf("target %s: record without its trace: %v", index, rec)
			continue
		}
		tg := buildtrace.Target{TraceID: rec["traceId"], BuildARN: b.ARN}
		var build *xray.Node
		var roots []*xray.Node
		// Documents arrive over UDP as the functions send them; the last with the end.
		err := poll(5*time.Second, func() (bool, error) {
			roots = tw.XRay.Trace(rec["traceId"])
			build = nil
			for _, r := range roots {
				r.Walk(func(n *xray.Node, _ int) {
					if n.ID == tg.BuildID() {
						build = n
					}
				})
			}
			return build != nil && !build.InProgress && len(build.Children) > 0 && build.Children[len(build.Children)-1].Name == buildtrace.CompletionName, nil
		})
		if err != nil || build == nil {
			t.Errorf("target %s: no complete build in trace %s: %v\n%s", index, rec["traceId"], err, timeline(roots))
			continue
		}
		var starter *xray.Node
		for _, r := range roots {
			for _, c := range r.Children {
				if c == build {
					starter = r
				}
			}
		}
		if starter == nil || starter.Name != "starter" || starter.ID != rec["traceParent"] || starter.Annotations[tracing.KeyExecutionARN] != res.ExecutionARN {
			t.Errorf("target %s: the build is not under the starter that started it\n%s", index, timeline(roots))
		}
		if build.Origin != buildtrace.Origin || build.Name != b.Project || build.AWS.AccountID != b.Account || build.AWS.Region != b.Region ||
			build.Annotations[buildtrace.KeyBuildStatus] != w.status || build.Annotations[tracing.KeyBuildARN] != b.ARN || build.Error != (w.status != "SUCCEEDED") {
			t.Errorf("target %s: build segment %s", index, build.Raw)
		}
		seen := map[string]int{}
		for _, c := range build.Children {
			seen[c.Name]++
			if c.Type != "subsegment" || c.StartTime < build.StartTime {
				t.Errorf("target %s: %s", index, c.Raw)
			}
		}
		for _, phase := range []string{"SUBMITTED", "QUEUED", "PROVISIONING", "BUILD", "FINALIZING"} {
			if seen[phase] != 1 {
				t.Errorf("target %s: phase %s %d times under the build\n%s", index, phase, seen[phase], timeline(roots))
			}
		}
		c := build.Children[len(build.Children)-1]
		if seen[buildtrace.CompletionName] != 1 || c.Annotations[buildtrace.KeyCompletedBy] != w.by || c.Annotations[buildtrace.KeyCompletionPath] != w.path {
			t.Errorf("target %s: completion %s, want completed by %s", index, c.Raw, w.by)
		}
		if rec["completedBy"] != w.by {
			t.Errorf("target %s: record completed by %q, want %q", index, rec["completedBy"], w.by)
		}
	}

	// Every AWS call span names its service and operation.
	calls := map[string]int{}
	for _, s := range tw.XRay.Segments() {
		if s.Namespace != "aws" {
			continue
		}
		if s.Name == "" || s.Name == "unknown" || s.AWS.Operation == "" || s.AWS.Operation == "unknown" {
			t.Errorf("AWS call span without its service and operation: %s", s.Raw)
		}
		calls[s.Name+"."+s.AWS.Operation]++
	}
	for _, call := range []string{"CodeBuild.StartBuild", "SFN.SendTaskSuccess", "SFN.SendTaskFailure", "DynamoDB.GetItem", "STS.AssumeRole", "CodeBuild.BatchGetBuilds"} {
		if calls[call] == 0 {
			t.Errorf("no %s call span among %v", call, calls)
		}
	}

	text := out.String()
	for _, wantLine := range []string{"\ntrace 1-", "starter ", " [AWS::CodeBuild::Project] SUCCEEDED", "\n    BUILD ", "\n    completion SendTaskSuccess event", "█"} {
		if !strings.Contains(text, wantLine) {
			t.Errorf("the demo's timeline lacks %q:\n%s", wantLine, text)
		}
	}
	if tw.XRay.Rejected() != 0 {
		t.Errorf("the X-Ray daemon rejected %d datagrams", tw.XRay.Rejected())
	}
}

func timeline(roots []*xray.Node) string {
	var b strings.Builder
	xray.Timeline(&b, roots, 40)
	return b.String()
}
