package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crossbuild/crossbuild/local/demo"
	"github.com/crossbuild/crossbuild/local/world"
)

// The demo's narration: a live line per target ending with how its task was completed, the
// results (a refused target included), the builds' environments and the X-Ray summary.
func TestDemoNarratesTheRun(t *testing.T) {
	tw := startWorld(t, world.Options{TimeScale: 30, PhaseDelay: 50 * time.Millisecond})
	input := `{"crossAccountTargetRoleArns": [
	  {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
	   "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1"},
	  {"arn": "arn:aws:iam::333333333333:role/crossbuild-target-role", "region": "us-east-1",
	   "codeBuildProject": "sample-codebuild-project", "completion": "poll", "pollIntervalSeconds": 5},
	  {"arn": "arn:aws:iam::444444444444:role/crossbuild-target-role", "region": "eu-west-1",
	   "codeBuildProject": "sample-codebuild-project"}],
	 "failureTolerance": 1}`
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := demo.Run(ctx, tw.World, demo.Options{Input: input, Name: "narrated", Poll: 20 * time.Millisecond}, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	if res.Status != "SUCCEEDED" || len(res.Builds) != 2 {
		t.Fatalf("status %s, %d builds\n%s", res.Status, len(res.Builds), text)
	}
	for _, want := range []string{
		"target 0  222222222222 eu-west-1",
		"IN_PROGRESS -> SUCCEEDED (completed by event",
		"IN_PROGRESS -> SUCCEEDED (completed by poll",
		"SUCCEEDED completed by event",
		"SUCCEEDED completed by poll",
		"444444444444 eu-west-1 sample-codebuild-project  FAILED TargetNotAllowed",
		"  SAMPLE_VAR1=Value1",
		"X-Ray: trace 1-",
		"target 0: child execution arn:aws:states:eu-west-1:111111111111:execution:crossbuild/targets:",
		`annotation.build_arn = "` + res.Builds[0].ARN + `": callback x`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the narration lacks %q:\n%s", want, text)
		}
	}
	// Every callback invocation links back to the trace of the child that started its build.
	for _, b := range res.Builds {
		prefix := `annotation.build_arn = "` + b.ARN + `": callback x`
		_, line, ok := strings.Cut(text, prefix)
		line, _, _ = strings.Cut(line, "\n")
		callbacks, rest, _ := strings.Cut(line, ",")
		if !ok || !strings.HasSuffix(rest, "; "+callbacks+" linked back by origin_trace_id") {
			t.Errorf("build %s: the narration does not link every callback back: %q", b.ARN, prefix+line)
		}
	}
}
