package e2e

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/scale"
	"github.com/crossbuild/crossbuild/local/world"
)

// Scale at CI size: enough targets that the output no longer lists them and the results
// live in S3 only, few enough to run in a test.
const (
	scaleTargets     = 200
	scaleConcurrency = 0 // no limit: every child at once
	scaleTimeout     = 2 * time.Minute
	maxOutputBytes   = 256 * 1024 // Step Functions' limit on an execution's output
	maxChildEvents   = 1000
)

// TestScale: 200 targets of a project whose builds run nothing. The execution succeeds with
// a summary of every target, an output far below Step Functions' 256 KiB that no longer
// lists the results, small child histories, and every result in S3.
func TestScale(t *testing.T) {
	tw := startWorld(t, world.Options{
		TimeScale: timeScale, PhaseDelay: 20 * time.Millisecond,
		EventRetryBackoff: func(int) time.Duration { return 20 * time.Millisecond },
		Mutate:            scale.NoOpBuilds,
	})
	base := defaultTargets(t)
	targets := make([]target, scaleTargets)
	for i := range targets {
		targets[i] = maps.Clone(base[i%len(base)])
		targets[i]["SampleValue2"] = fmt.Sprint(i)
	}
	began := time.Now()
	arn := tw.start(t, "scale", input(targets, map[string]any{"maxConcurrency": scaleConcurrency}))
	tw.waitEndedWithin(t, arn, scaleTimeout)
	took := time.Since(began)
	x := tw.read(t, arn)
	t.Logf("%d targets ran in %s", scaleTargets, took.Round(time.Millisecond))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)

	raw := aws.ToString(x.desc.Output)
	if len(raw) >= maxOutputBytes {
		t.Errorf("output of %d bytes, want less than %d", len(raw), maxOutputBytes)
	}
	o := x.decodeOutput(t)
	s := o.Summary
	if s.Total != scaleTargets || s.Succeeded != scaleTargets || s.Failed != 0 || s.NotRun != 0 ||
		!maps.Equal(s.ByStatus, map[string]int{"SUCCEEDED": scaleTargets}) || len(s.ByError) != 0 {
		t.Errorf("summary %+v, want %d targets succeeded", s, scaleTargets)
	}
	if len(o.Results) != 0 || len(o.FailedTargets) != 0 {
		t.Errorf("output lists %d results and %d failures, want none beyond 100 targets", len(o.Results), len(o.FailedTargets))
	}
	ex := tw.exported(t, x)
	wantLocation(t, tw, x, o, ex)
	wantKinds(t, ex, scaleTargets, 0, 0)
	x.wantMapRun(t, sfntypes.MapRunStatusSucceeded, mapRunCounts{succeeded: scaleTargets})

	x.wantChildren(t, scaleTargets)
	largest := 0
	for i := range scaleTargets {
		c := x.child(t, i)
		largest = max(largest, len(c.history))
		checkSucceeded(t, ex.result(t, i), targets[i], x.oneBuild(t, i), "event")
	}
	if largest > maxChildEvents {
		t.Errorf("a child history has %d events, want at most %d", largest, maxChildEvents)
	}
	x.wantEvents(t, parentSucceeded, childEvent, nil)
	x.wantScheduled(t, tw, scaleTargets, 0)
	t.Logf("output %d bytes, largest child history %d events, results in %d result file entries", len(raw), largest, ex.kinds["SUCCEEDED"])

	tw.settle(t)
	tw.noDeadLetters(t)
}

// TestCodeBuildQuota: six targets in one account and Region whose CodeBuild runs two builds
// at a time and queues none, so StartBuild refuses the others with
// AccountLimitExceededException. The starter reports BuildQuotaExceeded, the state machine
// retries it with backoff, and every target's build runs exactly once.
func TestCodeBuildQuota(t *testing.T) {
	const quota, n = 2, 6
	tw := startWorld(t, world.Options{
		TimeScale: timeScale, PhaseDelay: 50 * time.Millisecond,
		EventRetryBackoff:         func(int) time.Duration { return 20 * time.Millisecond },
		Mutate:                    addBuildHooks,
		CodeBuildConcurrentBuilds: quota,
		CodeBuildQueuedBuilds:     -1,
	})
	base := defaultTargets(t)[0]
	targets := make([]target, n)
	for i := range targets {
		targets[i] = maps.Clone(base)
		targets[i]["SampleValue2"] = fmt.Sprint(i)
	}
	began := time.Now()
	arn := tw.start(t, "codebuild-quota", input(targets, nil))
	tw.waitEndedWithin(t, arn, 2*executionTimeout)
	t.Logf("%d targets under a quota of %d ran in %s", n, quota, time.Since(began).Round(time.Millisecond))
	x := tw.read(t, arn)
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, n, n, 0, 0)

	refusals := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskFailed)
	if len(refusals) == 0 || slices.ContainsFunc(refusals, func(e string) bool { return e != "BuildQuotaExceeded" }) {
		t.Fatalf("TaskFailed errors %v, want BuildQuotaExceeded at least once: more builds than the quota started at once", refusals)
	}
	events, most := map[int]int{}, 0
	for i, c := range x.children {
		refused := len(taskErrors(c.history, sfntypes.HistoryEventTypeTaskFailed))
		events[i] = childEvent + refusedAttempt*refused
		most = max(most, refused)
	}
	x.wantEvents(t, parentSucceeded, childEvent, events)
	// One build per map index, each started by the attempt that was not refused.
	x.wantScheduled(t, tw, n+len(refusals), 0)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, n)
	var builds []codebuild.BuildInfo
	for i, tg := range targets {
		b := x.oneBuild(t, i)
		checkSucceeded(t, o.Results[i], tg, b, "event")
		builds = append(builds, b)
	}
	if most := mostAtOnce(builds); most > quota {
		t.Errorf("%d builds ran at once, more than the quota of %d", most, quota)
	}
	t.Logf("%d StartBuild refusals retried, at most %d for one target", len(refusals), most)

	tw.settle(t)
	for _, b := range builds {
		tw.wantRecord(t, b, "COMPLETED", "event")
	}
	tw.noDeadLetters(t)
}

// mostAtOnce returns how many of the builds ran at the same time at most.
func mostAtOnce(builds []codebuild.BuildInfo) int {
	most := 0
	for _, b := range builds {
		at := 0
		for _, o := range builds {
			if !o.Start.After(b.Start) && o.End.After(b.Start) {
				at++
			}
		}
		most = max(most, at)
	}
	return most
}
