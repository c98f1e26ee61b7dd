package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/world"
)

// Test settings of the worlds. At a time scale of 30 the smallest heartbeat the starter
// accepts (60 s) times out after 2 s, and a 5 s poll interval waits 1/6 s; builds take
// about a second (ten phases of phaseDelay).
const (
	timeScale  = 30
	phaseDelay = 100 * time.Millisecond
)

// The account whose events the "events dropped" scenario loses, and whose target role
// refuses the starter in TestTrustRefusesStarter: the second target of the demo input.
const (
	otherAccount = "333333333333"
	otherIndex   = 1
)

// History events of the state machine (docs/architecture.md, "Execution history
// arithmetic"). The parent execution's history does not grow with the targets: it has
// parentSucceeded events when the Map Run succeeds, parentTargetsFailed when the Map Run
// fails and the summary fails the execution, parentInvalidInput when the planner refuses
// the input, parentAborted when it is stopped while the Map Run runs. Each target is a
// child execution with a history of its own: childEvent events in event mode, childFailed
// when its build fails, childRefused when the starter refuses it, childInvalid when the
// planner found a problem in it, childAborted when it is stopped while it waits for its
// build; childPoll + pollRound per poll in poll mode, childFallback + pollRound per poll
// after a heartbeat fallback. Every attempt of the starter that CodeBuild's quota refused
// adds refusedAttempt.
const (
	// Execution 2 + Plan run 5 + Run targets 6 + Summarise 5 + Within failure tolerance? 2
	// + Done 2.
	parentSucceeded = 22
	// The Map Run fails (States.ExceedToleratedFailureThreshold) and the Catch goes on to
	// Summarise: ExecutionStarted, Plan run 5, Run targets 6 as on success but with
	// MapRunFailed and MapStateFailed for MapRunSucceeded and MapStateSucceeded (the caught
	// state still exits), Summarise 5, Within failure tolerance? 2, FailStateEntered,
	// ExecutionFailed: 1 + 5 + 6 + 5 + 2 + 1 + 1.
	parentTargetsFailed = 21
	// Stopped while the Map Run runs: ExecutionStarted, Plan run 5, MapStateEntered,
	// MapStateStarted, MapRunStarted, ExecutionAborted.
	parentAborted = 10
	// ExecutionStarted, Plan run's TaskStateEntered, TaskScheduled, TaskStarted, TaskFailed
	// and TaskStateExited (caught), Read input error 2, FailStateEntered, ExecutionFailed.
	parentInvalidInput = 10
	// Execution 2 + Check target 2 + Start build and wait for event 6.
	childEvent = 10
	// Execution 2 + Check target 2 + the wait's 6 (TaskFailed for TaskSucceeded) + Target
	// failed 2 + Fail target 1.
	childFailed = 13
	// Execution 2 + Check target 2 + the starter's 5 (no TaskSubmitted: the invocation
	// itself failed) + Target failed 2 + Fail target 1.
	childRefused = 12
	// Execution 2 + Check target 2 + Invalid target 2 + Fail target 1.
	childInvalid = 7
	// Stopped while waiting for its token: ExecutionStarted, Check target 2, the wait's
	// TaskStateEntered, TaskScheduled, TaskStarted and TaskSubmitted, ExecutionAborted.
	childAborted = 8
	// Execution 2 + Check target 2 + Start build for polling 5 + Build succeeded 2.
	childPoll = 11
	// Execution 2 + Check target 2 + the timed-out wait 6 + Fall back to polling 2 + Build
	// succeeded 2, less the Wait the first poll skips (2).
	childFallback = 12
	// Wait before polling 2 + Poll build 5 + Build finished? 2.
	pollRound = 9
	// A retried attempt: TaskScheduled, TaskStarted, TaskFailed.
	refusedAttempt = 3
)

// TestScenarios runs the scenarios that share one world: its sample projects carry the
// build hooks (a failing or slow build on demand), and the drop hook loses the events of
// otherAccount while a scenario switches it on.
func TestScenarios(t *testing.T) {
	var dropping atomic.Bool
	tw := startWorld(t, world.Options{
		TimeScale:         timeScale,
		PhaseDelay:        phaseDelay,
		EventRetryBackoff: func(int) time.Duration { return 20 * time.Millisecond },
		DropEvent: func(ev json.RawMessage) bool {
			return dropping.Load() && eventAccount(ev) == otherAccount
		},
		Mutate: addBuildHooks,
	})
	scenarios := []struct {
		name string
		drop bool // lose otherAccount's events while the scenario runs
		run  func(*testing.T, *testWorld)
	}{
		{"all targets succeed", false, allSucceed},
		{"a build fails", false, buildFails},
		{"a target polls", false, targetPolls},
		{"events dropped", true, eventsDropped},
		{"targets not allowed", false, notAllowed},
		{"stopped mid-build", false, stoppedMidBuild},
		{"tolerance stops the run", false, toleranceStopsRun},
		{"targets from S3", false, targetsFromS3},
		{"bad input is a named error", false, badInput},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			dropping.Store(sc.drop)
			defer dropping.Store(false)
			sc.run(t, tw)
		})
	}
}

func eventAccount(ev json.RawMessage) string {
	var e struct {
		Account string `json:"account"`
	}
	_ = json.Unmarshal(ev, &e) // an event that does not decode is not dropped
	return e.Account
}

func input(targets []target, extra map[string]any) map[string]any {
	in := map[string]any{"crossAccountTargetRoleArns": targets}
	maps.Copy(in, extra)
	return in
}

// allSucceed: the walkthrough input over three targets; every build is completed by its
// events and saw its overrides.
func allSucceed(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	x := tw.run(t, "all-succeed", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0, 0)
	ex := tw.exported(t, x)
	wantLocation(t, tw, x, o, ex)
	wantKinds(t, ex, 3, 0, 0)
	for i, tg := range targets {
		b := x.oneBuild(t, i)
		checkSucceeded(t, o.Results[i], tg, b, "event")
		checkSucceeded(t, ex.result(t, i), tg, b, "event")
		checkEnvFile(t, x, i, tg, b)
	}
	if got := readEnvFile(t, x.oneBuild(t, 2))["DEPLOY_ENV"]; got != "staging" {
		t.Errorf("target 2's build printed DEPLOY_ENV=%q, want staging", got)
	}
	x.wantMapRun(t, sfntypes.MapRunStatusSucceeded, mapRunCounts{succeeded: 3})

	x.wantEvents(t, parentSucceeded, childEvent, nil)
	x.wantScheduled(t, tw, 3, 0)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, 3)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSucceeded, 3)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskTimedOut, 0)
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionSucceeded, sfntypes.HistoryEventTypeExecutionSucceeded, nil)

	tw.settle(t)
	for i := range targets {
		tw.wantRecord(t, x.oneBuild(t, i), "COMPLETED", "event")
	}
	tw.noDeadLetters(t)
	wantTraces(t, tw, x, len(targets))
}

// wantTraces checks what an operator finds in X-Ray: the execution's own trace; for each
// target the starter's invocation in its child execution's trace, annotated with the
// (parent) execution ARN the build carries; every callback invocation of the build
// annotated with its ARN and linked back to that trace.
func wantTraces(t *testing.T, tw *testWorld, x *execution, targets int) {
	t.Helper()
	if _, ok := tw.ExecutionTrace(x.arn); !ok {
		t.Fatal("the traced state machine's execution has no X-Ray trace")
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := range targets {
		b := x.oneBuild(t, i)
		root, ok := tw.ExecutionTrace(x.child(t, i).arn)
		if !ok {
			t.Errorf("target %d: the child execution %s has no X-Ray trace", i, x.child(t, i).arn)
			continue
		}
		var starter, callback, linked int
		for time.Now().Before(deadline) {
			starter, callback, linked = 0, 0, 0
			for _, s := range tw.XRay.Find("build_arn", b.ARN) {
				switch {
				case s.Name == "starter" && s.TraceID == root && s.Annotations["execution_arn"] == x.arn:
					starter++
				case s.Name == "callback":
					callback++
					if s.TraceID != root && s.Annotations["origin_trace_id"] == root {
						linked++
					}
				}
			}
			if starter == 1 && callback > 0 && linked == callback {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if starter != 1 || callback == 0 || linked != callback {
			t.Errorf("target %d: X-Ray has %d starter segments in trace %s, %d callback segments, %d linked back", i, starter, root, callback, linked)
		}
	}
	if tw.XRay.Rejected() != 0 {
		t.Errorf("the X-Ray daemon rejected %d datagrams", tw.XRay.Rejected())
	}
}

// buildFails: the second target's build fails in its BUILD phase, after the other two
// have succeeded. No failure is tolerated, so the Map Run fails; the execution fails with
// TargetsFailed, its cause counting the failure, naming it and where the results are; the
// results in S3 hold the two successes and the failure with its cause (status, phase,
// log link).
func buildFails(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	targets[otherIndex][varFail] = "yes"
	// The build sleeps before it fails (host time: builds take about a second), so the
	// other two have ended and the Map Run has nothing left to abort.
	targets[otherIndex][varSleep] = 2
	x := tw.run(t, "build-fails", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusFailed)
	if e := aws.ToString(x.desc.Error); e != "TargetsFailed" {
		t.Errorf("execution error %q, want TargetsFailed", e)
	}
	b := x.oneBuild(t, otherIndex)
	for _, i := range []int{0, 2} {
		if other := x.oneBuild(t, i); !other.End.Before(b.End) {
			t.Fatalf("build %d ended at %s, not before the failing build (%s): the scenario needs a longer %s", i, other.End, b.End, varSleep)
		}
	}

	failed := wantCause(t, tw, x, "1 of 3 targets failed (tolerated: 0 targets, 100%)", true, 1)
	ex := tw.exported(t, x)
	wantKinds(t, ex, 2, 1, 0)
	full := ex.result(t, otherIndex)
	checkBuildFailure(t, full, otherIndex, targets[otherIndex], b)
	checkCauseFailure(t, failed[0], full)
	for _, i := range []int{0, 2} {
		checkSucceeded(t, ex.result(t, i), targets[i], x.oneBuild(t, i), "event")
	}

	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 2, 1, 0)
	wantLocation(t, tw, x, o, ex)
	wantCounts(t, "byError", o.Summary.ByError, map[string]int{"CodeBuild.FAILED": 1})
	checkBuildFailure(t, o.Results[otherIndex], otherIndex, targets[otherIndex], b)
	if len(o.FailedTargets) != 1 {
		t.Fatalf("%d failedTargets, want 1", len(o.FailedTargets))
	}
	checkBuildFailure(t, o.FailedTargets[0], otherIndex, targets[otherIndex], b)
	for _, i := range []int{0, 2} {
		checkSucceeded(t, o.Results[i], targets[i], x.oneBuild(t, i), "event")
	}
	// The build printed its environment before it failed, and failed where it was told to.
	checkEnvFile(t, x, otherIndex, targets[otherIndex], b)
	if b.Status != codebuild.StatusFailed {
		t.Errorf("build %s ended %s, want FAILED", b.ID, b.Status)
	}
	if p := phaseOf(b, "BUILD"); p == nil || p.Status != codebuild.StatusFailed || len(p.Contexts) == 0 ||
		!strings.Contains(p.Contexts[0].Message, "exit 3") {
		t.Errorf("build %s BUILD phase %+v, want FAILED with the command's exit 3", b.ID, p)
	}
	x.wantMapRun(t, sfntypes.MapRunStatusFailed, mapRunCounts{succeeded: 2, failed: 1})

	x.wantEvents(t, parentTargetsFailed, childEvent, map[int]int{otherIndex: childFailed})
	x.wantScheduled(t, tw, 3, 0)
	if got := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"CodeBuild.FAILED"}) {
		t.Errorf("TaskFailed errors %v, want [CodeBuild.FAILED]", got)
	}
	if n := entered(x.child(t, otherIndex).history, "Target failed"); n != 1 {
		t.Errorf("Target failed entered %d times, want 1", n)
	}
	x.wantCount(t, sfntypes.HistoryEventTypeFailStateEntered, 1)
	if n := entered(x.history, "Targets failed"); n != 1 {
		t.Errorf("the parent entered Targets failed %d times, want 1", n)
	}
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionFailed, sfntypes.HistoryEventTypeExecutionSucceeded,
		map[int]sfntypes.HistoryEventType{otherIndex: sfntypes.HistoryEventTypeExecutionFailed})
	if c := x.child(t, otherIndex).desc; aws.ToString(c.Error) != "CodeBuild.FAILED" {
		t.Errorf("the failed child ended with error %q, want CodeBuild.FAILED", aws.ToString(c.Error))
	}

	tw.settle(t)
	tw.wantRecord(t, b, "COMPLETED", "event")
	tw.noDeadLetters(t)
}

// targetPolls: the second target asks for poll completion; the Wait and poller loop
// completes it, the others complete by event.
func targetPolls(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	targets[otherIndex]["completion"] = "poll"
	targets[otherIndex]["pollIntervalSeconds"] = 5
	x := tw.run(t, "target-polls", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0, 0)
	ex := tw.exported(t, x)
	wantKinds(t, ex, 3, 0, 0)
	for i, tg := range targets {
		by := "event"
		if i == otherIndex {
			by = "poll"
		}
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), by)
		checkSucceeded(t, ex.result(t, i), tg, x.oneBuild(t, i), by)
	}

	polling := x.child(t, otherIndex).history
	polls := scheduled(t, polling, tw.pollerARN)
	if polls < 1 {
		t.Fatalf("the poller never ran:%s", typesOf(polling))
	}
	x.wantEvents(t, parentSucceeded, childEvent, map[int]int{otherIndex: childPoll + polls*pollRound})
	x.wantScheduled(t, tw, 3, polls)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, 2) // the event-mode targets only
	for state, want := range map[string]int{
		"Start build for polling": 1, "Wait before polling": polls, "Poll build": polls,
		"Build finished?": polls, "Build succeeded": 1,
	} {
		if n := entered(polling, state); n != want {
			t.Errorf("%s entered %d times, want %d", state, n, want)
		}
	}
	// The time scale shortens the Waits but history time shows the interval asked for.
	if short := waitsShorterThan(polling, "Wait before polling", 5*time.Second); short > 0 {
		t.Errorf("%d Waits of the history last less than pollIntervalSeconds (5 s)", short)
	}

	tw.settle(t)
	rec := tw.wantRecord(t, x.oneBuild(t, otherIndex), "COMPLETED", "poll")
	if rec["completion"] != "poll" || rec["taskToken"] != "" {
		t.Errorf("poll-mode record: completion %q, task token present %v", rec["completion"], rec["taskToken"] != "")
	}
	tw.noDeadLetters(t)
}

// eventsDropped: the events of otherAccount never arrive; the heartbeat timeout hands that
// build to the polling branch, which completes it without starting another build.
func eventsDropped(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	targets[otherIndex]["heartbeatSeconds"] = 60 // the smallest the planner accepts
	x := tw.run(t, "events-dropped", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0, 0)
	for i, tg := range targets {
		by := "event"
		if i == otherIndex {
			by = "poll"
		}
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), by) // one build each: no second start
	}

	if got := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskTimedOut); !slices.Equal(got, []string{"States.HeartbeatTimeout"}) {
		t.Errorf("TaskTimedOut errors %v, want [States.HeartbeatTimeout]", got)
	}
	fellBack := x.child(t, otherIndex).history
	if n := entered(fellBack, "Fall back to polling"); n != 1 {
		t.Errorf("Fall back to polling entered %d times, want 1 (the timeout caught)", n)
	}
	// The Catch put the timeout next to the child's input (ResultPath $.fallback).
	var caught struct{ Fallback struct{ Error string } }
	if out, _ := stateOutput(fellBack, "Fall back to polling"); json.Unmarshal([]byte(out), &caught) != nil ||
		caught.Fallback.Error != "States.HeartbeatTimeout" {
		t.Errorf("Fall back to polling output %s, want the caught States.HeartbeatTimeout in fallback", out)
	}
	polls := scheduled(t, fellBack, tw.pollerARN)
	if polls < 1 {
		t.Fatalf("the poller never ran:%s", typesOf(fellBack))
	}
	x.wantEvents(t, parentSucceeded, childEvent, map[int]int{otherIndex: childFallback + polls*pollRound})
	x.wantScheduled(t, tw, 3, polls)
	if n := entered(fellBack, "Wait before polling"); n != polls-1 {
		t.Errorf("Wait before polling entered %d times, want %d (the first poll follows the fallback at once)", n, polls-1)
	}
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSucceeded, 2+polls) // two by event, the polls

	tw.settle(t)
	for i := range targets {
		by := "event"
		if i == otherIndex {
			by = "poll"
		}
		tw.wantRecord(t, x.oneBuild(t, i), "COMPLETED", by)
	}
	tw.noDeadLetters(t)
}

// notAllowed: an account outside the allow-list and a role name outside it fail fast with
// TargetNotAllowed; no build starts for them and the allowed targets run. Two failures are
// tolerated, so the Map Run and the execution succeed.
func notAllowed(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	refused := []target{
		{"arn": "arn:aws:iam::444444444444:role/crossbuild-target-role", "region": "eu-west-1",
			"codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1"},
		{"arn": "arn:aws:iam::222222222222:role/some-other-role", "region": "eu-west-1",
			"codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1"},
	}
	all := append(slices.Clone(targets), refused...)
	x := tw.run(t, "not-allowed", input(all, map[string]any{"failureTolerance": len(refused)}))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, len(all), len(targets), len(refused), 0)
	if s := o.Summary; s.ToleratedFailureCount != len(refused) || s.ToleratedFailurePercentage != 100 {
		t.Errorf("summary tolerates %d targets and %v%%, want %d and 100%%", s.ToleratedFailureCount, s.ToleratedFailurePercentage, len(refused))
	}
	wantCounts(t, "byError", o.Summary.ByError, map[string]int{"TargetNotAllowed": len(refused)})
	if len(o.FailedTargets) != len(refused) {
		t.Errorf("%d failedTargets, want %d", len(o.FailedTargets), len(refused))
	}
	ex := tw.exported(t, x)
	wantKinds(t, ex, len(targets), len(refused), 0)
	for i, tg := range targets {
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), "event")
	}
	for k, tg := range refused {
		i := len(targets) + k
		checkTargetFailure(t, o.Results[i], i, tg, "TargetNotAllowed")
		checkTargetFailure(t, ex.result(t, i), i, tg, "TargetNotAllowed")
		if n := len(x.builds[i]); n != 0 {
			t.Errorf("target %d (%s): %d builds started, want none", i, tg.str("arn"), n)
		}
	}
	if !strings.Contains(o.Results[3].Cause, "444444444444") || !strings.Contains(o.Results[4].Cause, "some-other-role") {
		t.Errorf("causes do not name the refused value: %q, %q", o.Results[3].Cause, o.Results[4].Cause)
	}
	for _, b := range tw.CodeBuild.Builds() {
		if b.Account == "444444444444" {
			t.Errorf("build %s started in the account outside the allow-list", b.ARN)
		}
	}
	x.wantMapRun(t, sfntypes.MapRunStatusSucceeded, mapRunCounts{succeeded: len(targets), failed: len(refused)})

	x.wantEvents(t, parentSucceeded, childEvent, map[int]int{3: childRefused, 4: childRefused})
	x.wantScheduled(t, tw, len(all), 0) // refused once each: not retried
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, len(targets))
	if got := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"TargetNotAllowed", "TargetNotAllowed"}) {
		t.Errorf("TaskFailed errors %v, want TargetNotAllowed twice", got)
	}
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionSucceeded, sfntypes.HistoryEventTypeExecutionSucceeded,
		map[int]sfntypes.HistoryEventType{3: sfntypes.HistoryEventTypeExecutionFailed, 4: sfntypes.HistoryEventTypeExecutionFailed})
	tw.settle(t)
	tw.noDeadLetters(t)
}

// cancelTimeout bounds how long after an abort the canceller has stopped every build.
const cancelTimeout = 10 * time.Second

// stoppedMidBuild: StopExecution while the builds run. The execution ends ABORTED, and so
// do its Map Run and children; its status change reaches the canceller, which stops every
// build within seconds through the target roles and closes the records as STOPPED. The
// builds' own STOPPED events come late and are harmless: the records stay closed.
func stoppedMidBuild(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	for _, tg := range targets {
		// Far longer than the canceller needs: a build that ends SUCCEEDED was not stopped.
		tg[varSleep] = 60
	}
	arn := tw.start(t, "stopped-mid-build", input(targets, nil))

	// Stop once every child's task waits for its token and every build runs.
	err := poll(executionTimeout, func() (bool, error) {
		builds := tw.buildsOf(arn)
		for _, bs := range builds {
			if len(bs) > 0 && bs[0].Complete {
				return false, fmt.Errorf("build %s finished before every task waited; the builds need a longer %s", bs[0].ID, varSleep)
			}
		}
		x := tw.read(t, arn)
		return count(x.childEvents(), sfntypes.HistoryEventTypeTaskSubmitted) == len(targets) && len(builds) == len(targets), nil
	})
	if err != nil {
		t.Fatalf("waiting for the builds to run: %v", err)
	}
	if _, err := tw.sfn.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String("Scenario.Stopped"), Cause: aws.String("stopped mid-build")}); err != nil {
		t.Fatalf("stop execution: %v", err)
	}
	// Stopping the parent stops its children, which end on their own goroutines.
	var x *execution
	err = poll(settleTimeout, func() (bool, error) {
		x = tw.read(t, arn)
		for _, c := range x.children {
			if c.desc.Status == sfntypes.ExecutionStatusRunning {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("children still running after the stop: %v", err)
	}
	x.wantStatus(t, sfntypes.ExecutionStatusAborted)
	last := x.history[len(x.history)-1]
	if last.Type != sfntypes.HistoryEventTypeExecutionAborted || last.ExecutionAbortedEventDetails == nil ||
		aws.ToString(last.ExecutionAbortedEventDetails.Error) != "Scenario.Stopped" {
		t.Fatalf("last event %s %+v, want ExecutionAborted with the stop's error", last.Type, last.ExecutionAbortedEventDetails)
	}
	x.wantChildren(t, len(targets))
	for i, c := range x.children {
		if c.desc.Status != sfntypes.ExecutionStatusAborted {
			t.Errorf("child %d ended %s, want ABORTED with its parent", i, c.desc.Status)
		}
	}
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionAborted, sfntypes.HistoryEventTypeExecutionAborted, nil)
	// The Map Run records its own end just after its children's: read it once it has.
	if err := poll(settleTimeout, func() (bool, error) {
		x = tw.read(t, arn)
		return x.mapRun(t).Status != sfntypes.MapRunStatusRunning, nil
	}); err != nil {
		t.Errorf("map run still running after the abort: %v", err)
	}
	x.wantMapRun(t, sfntypes.MapRunStatusAborted, mapRunCounts{aborted: len(targets)})
	if n := entered(x.history, "Summarise"); n != 0 {
		t.Errorf("the stopped execution entered Summarise %d times", n)
	}
	for i := range targets {
		// The canceller may have stopped it already; a build that ended otherwise was not
		// running when the execution stopped.
		if b := x.oneBuild(t, i); b.Complete && b.Status != codebuild.StatusStopped {
			t.Fatalf("build %d had already ended %s when the execution was stopped", i, b.Status)
		}
	}
	x.wantEvents(t, parentAborted, childAborted, nil)
	x.wantScheduled(t, tw, 3, 0)

	tw.settle(t)
	after := tw.read(t, arn)
	after.wantStatus(t, sfntypes.ExecutionStatusAborted)
	if len(after.history) != len(x.history) {
		t.Errorf("the history grew from %d to %d events after the abort:%s", len(x.history), len(after.history), typesOf(after.history[len(x.history):]))
	}
	for i, c := range after.children {
		if n := len(x.children[i].history); len(c.history) != n {
			t.Errorf("child %d's history grew from %d to %d events after the abort:%s", i, n, len(c.history), typesOf(c.history[n:]))
		}
	}
	// The canceller stops every build well before it would have ended on its own.
	stopDeadline := time.Now().Add(cancelTimeout)
	closed := map[int]string{}
	for i := range targets {
		var b codebuild.BuildInfo
		err := poll(time.Until(stopDeadline), func() (bool, error) {
			b = tw.read(t, arn).oneBuild(t, i)
			return b.Complete, nil
		})
		if err != nil || b.Status != codebuild.StatusStopped {
			t.Errorf("build %d ended %s (%v), want STOPPED within %s of the abort", i, b.Status, err, cancelTimeout)
			continue
		}
		// The record is closed by whoever comes first: the canceller (STOPPED), or the
		// callback, when the build's own STOPPED event overtakes the canceller's write
		// (COMPLETED by event: its task was already closed). Either way it stays closed.
		var rec map[string]string
		err = poll(settleTimeout, func() (bool, error) {
			rec = tw.tokenRecord(t, b.ARN)
			return rec["state"] == "STOPPED" || rec["state"] == "COMPLETED", nil
		})
		switch {
		case err != nil || rec["buildId"] != b.ID:
			t.Errorf("record of build %s: state %q, want it closed", b.ID, rec["state"])
		case rec["state"] == "STOPPED" && rec["stoppedAt"] == "":
			t.Errorf("record of build %s: STOPPED without stoppedAt", b.ID)
		case rec["state"] == "COMPLETED" && rec["completedBy"] != "event":
			t.Errorf("record of build %s: COMPLETED by %q, want by the build's STOPPED event", b.ID, rec["completedBy"])
		}
		closed[i] = rec["state"]
	}
	// The builds' late events change nothing.
	tw.settle(t)
	for i := range targets {
		if rec := tw.tokenRecord(t, after.oneBuild(t, i).ARN); rec["state"] != closed[i] {
			t.Errorf("record %d went from %q to %q after the builds' events", i, closed[i], rec["state"])
		}
	}
	tw.noDeadLetters(t)
}

// toleranceStopsRun: six targets, four at a time, none may fail. The first target's build
// fails while the next three still run: the failure stops the Map Run, which aborts
// the three running children and never starts the last two. The execution fails with the
// counts; every result written (the failure, the aborted children, the items never started)
// is in S3. The execution's failure reaches the canceller, which stops the aborted
// children's builds and closes their records; the builds' late events are harmless.
func toleranceStopsRun(t *testing.T, tw *testWorld) {
	const n, concurrency, first = 6, 4, 0
	base := defaultTargets(t)
	targets := make([]target, n)
	for i := range targets {
		targets[i] = maps.Clone(base[i%len(base)])
		targets[i][varSleep] = 5 // host time: a build takes about a second without
	}
	// The failure comes once every running child has started its build.
	targets[first][varFail] = "yes"
	targets[first][varSleep] = 1
	x := tw.run(t, "tolerance-stops", input(targets, map[string]any{"maxConcurrency": concurrency, "failureTolerance": 0}))
	x.wantStatus(t, sfntypes.ExecutionStatusFailed)
	if e := aws.ToString(x.desc.Error); e != "TargetsFailed" {
		t.Errorf("execution error %q, want TargetsFailed", e)
	}
	aborted := concurrency - 1
	notRun := n - concurrency
	failures := wantCause(t, tw, x, fmt.Sprintf("%d of %d targets failed, %d not run (tolerated: 0 targets, 100%%)", concurrency, n, notRun), true, concurrency)
	x.wantMapRun(t, sfntypes.MapRunStatusFailed, mapRunCounts{failed: 1, aborted: aborted, pending: notRun})

	// The children: the failure, the aborted ones; no child and no build for the others.
	x.wantChildren(t, concurrency)
	b := x.oneBuild(t, first)
	checkBuildFailure(t, failures[0].withCause(t, x, first), first, targets[first], b)
	for i := range n {
		switch c, started := x.children[i]; {
		case i == first:
			if c.desc.Status != sfntypes.ExecutionStatusFailed {
				t.Errorf("child %d ended %s, want FAILED", i, c.desc.Status)
			}
		case i < concurrency:
			if !started || c.desc.Status != sfntypes.ExecutionStatusAborted {
				t.Errorf("child %d started %v, want ABORTED by the Map Run", i, started)
				continue
			}
			if bs := x.builds[i]; len(bs) != 1 || bs[0].Complete {
				t.Errorf("target %d: builds %v, want one still running when its child was aborted", i, bs)
			}
			if f := failures[i]; f.Status != "ABORTED" || f.Error != "ABORTED" || f.MapIndex == nil || *f.MapIndex != i {
				t.Errorf("failure %d in the cause %+v, want map index %d ABORTED", i, f, i)
			}
		default:
			if started || len(x.builds[i]) > 0 {
				t.Errorf("target %d: child started %v, %d builds: want neither after the Map Run stopped", i, started, len(x.builds[i]))
			}
		}
	}

	o := x.decodeOutput(t)
	wantSummary(t, o, n, 0, concurrency, notRun)
	wantCounts(t, "byStatus", o.Summary.ByStatus, map[string]int{"FAILED": 1, "ABORTED": aborted})
	wantCounts(t, "byError", o.Summary.ByError, map[string]int{"CodeBuild.FAILED": 1, "ABORTED": aborted})
	if len(o.FailedTargets) != concurrency {
		t.Fatalf("%d failedTargets, want %d", len(o.FailedTargets), concurrency)
	}
	checkBuildFailure(t, o.FailedTargets[first], first, targets[first], b)
	for i := 1; i < concurrency; i++ {
		checkAborted(t, o.FailedTargets[i], i, targets[i])
	}

	ex := tw.exported(t, x)
	wantLocation(t, tw, x, o, ex)
	wantKinds(t, ex, 0, concurrency, notRun)
	checkBuildFailure(t, ex.result(t, first), first, targets[first], b)
	for i := range n {
		e := ex.entries[i]
		switch {
		case i == first:
		case i < concurrency:
			if e.Status != "ABORTED" || e.StopDate == "" {
				t.Errorf("result entry %d: status %s stopped %q, want ABORTED with a stop date", i, e.Status, e.StopDate)
			}
		default:
			if e.Status != "PENDING" || e.ExecutionArn != "" {
				t.Errorf("result entry %d: status %s execution %q, want PENDING without an execution", i, e.Status, e.ExecutionArn)
			}
		}
	}

	x.wantEvents(t, parentTargetsFailed, childAborted, map[int]int{first: childFailed})
	ends := map[int]sfntypes.HistoryEventType{first: sfntypes.HistoryEventTypeExecutionFailed}
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionFailed, sfntypes.HistoryEventTypeExecutionAborted, ends)
	x.wantScheduled(t, tw, concurrency, 0)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, concurrency) // the aborted ones waited for their tokens

	tw.settle(t)
	for i := 1; i < concurrency; i++ {
		bi := x.oneBuild(t, i)
		if got := tw.CodeBuild.Builds(); !slices.ContainsFunc(got, func(g codebuild.BuildInfo) bool {
			return g.ARN == bi.ARN && g.Status == codebuild.StatusStopped
		}) {
			t.Errorf("build %d was not stopped after the execution failed", i)
		}
		if rec := tw.tokenRecord(t, bi.ARN); rec["state"] != "STOPPED" {
			t.Errorf("record of build %s: state %q, want STOPPED", bi.ID, rec["state"])
		}
	}
	tw.noDeadLetters(t)
}

// targetsFromS3: the targets come from a JSON array in the runs bucket, uploaded by the
// operator; every target runs as if given inline. A URI into another bucket is refused by
// name before anything runs.
func targetsFromS3(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	body, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	key := "targets/from-s3.json"
	tw.putObject(t, key, body)
	uri := "s3://" + tw.bucket + "/" + key
	x := tw.run(t, "targets-from-s3", map[string]any{"targetsS3Uri": uri})
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0, 0)
	ex := tw.exported(t, x)
	wantLocation(t, tw, x, o, ex)
	wantKinds(t, ex, 3, 0, 0)
	for i, tg := range targets {
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), "event")
		checkEnvFile(t, x, i, tg, x.oneBuild(t, i))
	}
	var plan struct {
		Count  int    `json:"count"`
		Source string `json:"source"`
	}
	if out, _ := stateOutput(x.history, "Plan run"); json.Unmarshal([]byte(out), &plan) != nil || plan.Count != 3 || plan.Source != uri {
		t.Errorf("Plan run output %s, want 3 targets from %s", out, uri)
	}
	x.wantEvents(t, parentSucceeded, childEvent, nil)
	x.wantScheduled(t, tw, 3, 0)

	elsewhere := "s3://not-the-runs-bucket/" + key
	refused := tw.run(t, "targets-elsewhere", map[string]any{"targetsS3Uri": elsewhere})
	refused.wantInvalidInput(t, tw, "targetsS3Uri", "not-the-runs-bucket")
	tw.settle(t)
	tw.noDeadLetters(t)
}

// badInput: input Step Functions' own states could only fail with States.Runtime gets a
// named error whose cause names the field: an array as the whole input and a fractional
// maxConcurrency fail the execution with InvalidInput; a fractional heartbeatSeconds fails
// that target alone with InvalidTarget, and the others run.
func badInput(t *testing.T, tw *testWorld) {
	t.Run("an array", func(t *testing.T) {
		arn := tw.startRaw(t, "input-is-an-array", "[]")
		tw.waitEnded(t, arn)
		tw.read(t, arn).wantInvalidInput(t, tw, "execution input", "must be a JSON object")
	})
	t.Run("a fractional maxConcurrency", func(t *testing.T) {
		x := tw.run(t, "fractional-concurrency", input(defaultTargets(t), map[string]any{"maxConcurrency": 2.5}))
		x.wantInvalidInput(t, tw, "maxConcurrency", "2.5")
	})
	t.Run("a fractional heartbeatSeconds", func(t *testing.T) {
		targets := defaultTargets(t)
		targets[otherIndex]["heartbeatSeconds"] = 90.5
		x := tw.run(t, "fractional-heartbeat", input(targets, map[string]any{"failureTolerance": 1}))
		x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
		o := x.decodeOutput(t)
		wantSummary(t, o, 3, 2, 1, 0)
		wantCounts(t, "byError", o.Summary.ByError, map[string]int{"InvalidTarget": 1})
		checkTargetFailure(t, o.Results[otherIndex], otherIndex, targets[otherIndex], "InvalidTarget")
		if c := o.Results[otherIndex].Cause; !strings.Contains(c, "heartbeatSeconds") {
			t.Errorf("cause %q does not name heartbeatSeconds", c)
		}
		for _, i := range []int{0, 2} {
			checkSucceeded(t, o.Results[i], targets[i], x.oneBuild(t, i), "event")
		}
		if n := len(x.builds[otherIndex]); n != 0 {
			t.Errorf("the invalid target started %d builds", n)
		}
		if n := entered(x.child(t, otherIndex).history, "Invalid target"); n != 1 {
			t.Errorf("Invalid target entered %d times, want 1", n)
		}
		x.wantMapRun(t, sfntypes.MapRunStatusSucceeded, mapRunCounts{succeeded: 2, failed: 1})
		x.wantEvents(t, parentSucceeded, childEvent, map[int]int{otherIndex: childInvalid})
		x.wantScheduled(t, tw, 2, 0) // the starter never sees the invalid target
		x.wantLast(t, sfntypes.HistoryEventTypeExecutionSucceeded, sfntypes.HistoryEventTypeExecutionSucceeded,
			map[int]sfntypes.HistoryEventType{otherIndex: sfntypes.HistoryEventTypeExecutionFailed})
		tw.settle(t)
		tw.noDeadLetters(t)
	})
}

// wantInvalidInput checks an execution the planner refused: it fails with InvalidInput, the
// cause naming the field (and holding want), before any Map Run, build or object.
func (x *execution) wantInvalidInput(t *testing.T, tw *testWorld, field, want string) {
	t.Helper()
	x.wantStatus(t, sfntypes.ExecutionStatusFailed)
	e, cause := aws.ToString(x.desc.Error), aws.ToString(x.desc.Cause)
	if e != "InvalidInput" || !strings.HasPrefix(cause, field+": ") || !strings.Contains(cause, want) {
		t.Errorf("execution %s failed with %s: %q, want InvalidInput naming %s (%s)", aws.ToString(x.desc.Name), e, cause, field, want)
	}
	if len(x.mapRuns) != 0 || len(x.builds) != 0 {
		t.Errorf("the refused input started %d map runs and %d builds", len(x.mapRuns), len(x.builds))
	}
	if objs := tw.listObjects(t, "runs/"+aws.ToString(x.desc.Name)+"/"); len(objs) != 0 {
		t.Errorf("the refused input left objects in the bucket: %v", slices.Sorted(maps.Keys(objs)))
	}
	x.wantEvents(t, parentInvalidInput, 0, nil)
	if got := taskErrors(x.history, sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"InvalidInput"}) {
		t.Errorf("TaskFailed errors %v, want [InvalidInput] (not retried)", got)
	}
	x.wantScheduled(t, tw, 0, 0)
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionFailed, "", nil)
}

// TestTrustRefusesStarter: the target role of otherAccount requires another ExternalId,
// so STS refuses the starter: that target fails with AssumeRoleFailed and no build starts
// in that account; the other targets run.
func TestTrustRefusesStarter(t *testing.T) {
	tw := startWorld(t, world.Options{
		TimeScale: timeScale, PhaseDelay: phaseDelay,
		EventRetryBackoff: func(int) time.Duration { return 20 * time.Millisecond },
		Mutate:            refuseStarter(otherAccount),
	})
	targets := defaultTargets(t)
	x := tw.run(t, "trust-refuses-starter", input(targets, map[string]any{"failureTolerance": 1}))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 2, 1, 0)
	checkTargetFailure(t, o.Results[otherIndex], otherIndex, targets[otherIndex], "AssumeRoleFailed")
	if !strings.Contains(o.Results[otherIndex].Cause, targets[otherIndex].str("arn")) {
		t.Errorf("cause %q does not name the role", o.Results[otherIndex].Cause)
	}
	for _, i := range []int{0, 2} {
		checkSucceeded(t, o.Results[i], targets[i], x.oneBuild(t, i), "event")
	}
	for _, b := range tw.CodeBuild.Builds() {
		if b.Account == otherAccount {
			t.Errorf("build %s started in the account whose role refused the starter", b.ARN)
		}
	}

	x.wantEvents(t, parentSucceeded, childEvent, map[int]int{otherIndex: childRefused})
	x.wantScheduled(t, tw, 3, 0) // AssumeRoleFailed is not retried
	if got := taskErrors(x.childEvents(), sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"AssumeRoleFailed"}) {
		t.Errorf("TaskFailed errors %v, want [AssumeRoleFailed]", got)
	}
	tw.settle(t)
	tw.noDeadLetters(t)
}

// Assertions.

func (x *execution) wantStatus(t *testing.T, want sfntypes.ExecutionStatus) {
	t.Helper()
	if x.desc.Status != want {
		t.Fatalf("execution %s ended %s (%s: %s), want %s; history:%s", x.arn, x.desc.Status,
			aws.ToString(x.desc.Error), aws.ToString(x.desc.Cause), want, typesOf(x.history))
	}
}

// oneBuild returns the build of a map index, which must be the only one.
func (x *execution) oneBuild(t *testing.T, index int) codebuild.BuildInfo {
	t.Helper()
	if n := len(x.builds[index]); n != 1 {
		t.Fatalf("target %d: %d builds started, want exactly 1", index, n)
	}
	return x.builds[index][0]
}

func (x *execution) wantChildren(t *testing.T, want int) {
	t.Helper()
	if len(x.children) != want {
		t.Errorf("%d child executions, want %d: %v", len(x.children), want, slices.Sorted(maps.Keys(x.children)))
	}
}

// wantEvents checks the length of the parent's history, and of each child's: want[i] for
// the children it names, others for the rest.
func (x *execution) wantEvents(t *testing.T, parent, others int, want map[int]int) {
	t.Helper()
	if len(x.history) != parent {
		t.Errorf("%d parent history events, want %d:%s", len(x.history), parent, typesOf(x.history))
	}
	for i, c := range x.children {
		n, ok := want[i]
		if !ok {
			n = others
		}
		if len(c.history) != n {
			t.Errorf("child %d: %d history events, want %d:%s", i, len(c.history), n, typesOf(c.history))
		}
	}
}

// wantCount checks how many events of a type the children recorded together.
func (x *execution) wantCount(t *testing.T, typ sfntypes.HistoryEventType, want int) {
	t.Helper()
	if n := count(x.childEvents(), typ); n != want {
		t.Errorf("%d %s events in the children, want %d", n, typ, want)
	}
}

// wantScheduled checks how many starter and poller tasks the children scheduled: one
// starter task per target means no build was started twice. The parent schedules the
// planner once and the summariser at most once, never the starter or the poller.
func (x *execution) wantScheduled(t *testing.T, tw *testWorld, starter, poller int) {
	t.Helper()
	h := x.childEvents()
	if n := scheduled(t, h, tw.starterARN); n != starter {
		t.Errorf("the starter was scheduled %d times, want %d", n, starter)
	}
	if n := scheduled(t, h, tw.pollerARN); n != poller {
		t.Errorf("the poller was scheduled %d times, want %d", n, poller)
	}
	if n := count(h, sfntypes.HistoryEventTypeTaskScheduled); n != starter+poller {
		t.Errorf("%d tasks scheduled in the children, want %d", n, starter+poller)
	}
	planner, summariser := scheduled(t, x.history, tw.plannerARN), scheduled(t, x.history, tw.summariserARN)
	if n := count(x.history, sfntypes.HistoryEventTypeTaskScheduled); planner != 1 || summariser > 1 || n != planner+summariser {
		t.Errorf("the parent scheduled %d tasks: the planner %d times, the summariser %d; want the planner once, the summariser at most once", n, planner, summariser)
	}
}

// wantLast checks the type of the parent's last event, and of each child's: want[i] for
// the children it names, others for the rest.
func (x *execution) wantLast(t *testing.T, parent, others sfntypes.HistoryEventType, want map[int]sfntypes.HistoryEventType) {
	t.Helper()
	if len(x.history) == 0 || x.history[len(x.history)-1].Type != parent {
		t.Errorf("the parent's history does not end with %s:%s", parent, typesOf(x.history))
	}
	for i, c := range x.children {
		typ, ok := want[i]
		if !ok {
			typ = others
		}
		if len(c.history) == 0 || c.history[len(c.history)-1].Type != typ {
			t.Errorf("child %d's history does not end with %s:%s", i, typ, typesOf(c.history))
		}
	}
}

// mapRunCounts are the child executions DescribeMapRun counts by status.
type mapRunCounts struct{ succeeded, failed, aborted, pending int }

// wantMapRun checks the Map Run as DescribeMapRun reports it after the execution ended.
func (x *execution) wantMapRun(t *testing.T, status sfntypes.MapRunStatus, want mapRunCounts) {
	t.Helper()
	run := x.mapRun(t)
	c := run.ExecutionCounts
	total := want.succeeded + want.failed + want.aborted + want.pending
	if run.Status != status || c == nil || c.Succeeded != int64(want.succeeded) || c.Failed != int64(want.failed) ||
		c.Aborted != int64(want.aborted) || c.Pending != int64(want.pending) || c.Running != 0 || c.Total != int64(total) {
		t.Errorf("map run %s: %s with execution counts %+v, want %s with %+v", aws.ToString(run.MapRunArn), run.Status, c, status, want)
	}
	if aws.ToString(run.ExecutionArn) != x.arn {
		t.Errorf("map run %s belongs to %q, want %s", aws.ToString(run.MapRunArn), aws.ToString(run.ExecutionArn), x.arn)
	}
}

// wantSummary checks the summary's counts and that the output lists the result of every
// target that has one.
func wantSummary(t *testing.T, o output, total, succeeded, failed, notRun int) {
	t.Helper()
	s := o.Summary
	if s.Total != total || s.Succeeded != succeeded || s.Failed != failed || s.NotRun != notRun || len(o.Results) != succeeded+failed {
		t.Fatalf("summary %+v with %d results, want total %d, succeeded %d, failed %d, not run %d", s, len(o.Results), total, succeeded, failed, notRun)
	}
	statuses := 0
	for _, n := range s.ByStatus {
		statuses += n
	}
	if s.ByStatus["SUCCEEDED"] != succeeded || statuses != succeeded+failed {
		t.Errorf("summary byStatus %v, want %d SUCCEEDED of %d", s.ByStatus, succeeded, succeeded+failed)
	}
}

func wantCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("summary %s %v, want %v", what, got, want)
	}
}

// wantLocation checks that the output says where the results are: the Map Run's manifest
// in the runs bucket.
func wantLocation(t *testing.T, tw *testWorld, x *execution, o output, ex *exported) {
	t.Helper()
	loc := o.ResultsLocation
	prefix := "runs/" + aws.ToString(x.desc.Name) + "/results"
	if loc.Bucket != tw.bucket || loc.Prefix != prefix || loc.Manifest == nil || *loc.Manifest != ex.manifestKey {
		t.Errorf("resultsLocation %+v (manifest %v), want s3://%s/%s with manifest %s", loc, loc.Manifest, tw.bucket, prefix, ex.manifestKey)
	}
}

// wantKinds checks how many children each kind of result file lists.
func wantKinds(t *testing.T, ex *exported, succeeded, failed, pending int) {
	t.Helper()
	want := map[string]int{}
	for kind, n := range map[string]int{"SUCCEEDED": succeeded, "FAILED": failed, "PENDING": pending} {
		if n > 0 {
			want[kind] = n
		}
	}
	if !maps.Equal(ex.kinds, want) {
		t.Errorf("result files list %v, want %v", ex.kinds, want)
	}
}

// wantCause checks the cause of TargetsFailed: the counts, the Map Run's error when it
// failed, where the results are, then the first failures, which it decodes and returns.
func wantCause(t *testing.T, tw *testWorld, x *execution, counts string, mapRunFailed bool, failures int) []result {
	t.Helper()
	cause := aws.ToString(x.desc.Cause)
	head, list, ok := strings.Cut(cause, "; first failures: ")
	want := counts
	if mapRunFailed {
		want += "; map run: States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded"
	}
	want += "; results: s3://" + tw.bucket + "/runs/" + aws.ToString(x.desc.Name) + "/results"
	var first []result
	if !ok || head != want || strictDecode(list, &first) != nil || len(first) != failures {
		t.Fatalf("execution cause %q: want %q, then the first failures (%d)", cause, want+"; first failures: [...]", failures)
	}
	for i, f := range first {
		if f.MapIndex == nil || (i > 0 && *f.MapIndex <= *first[i-1].MapIndex) {
			t.Errorf("the cause's failures are not in map index order: %+v", first)
		}
	}
	return first
}

// withCause returns a failure from the execution's cause with the full cause of the same
// target from its child execution: the execution's cause cuts long causes, marked with an
// ellipsis, which must be the start of the full one.
func (r result) withCause(t *testing.T, x *execution, index int) result {
	t.Helper()
	var full result
	if err := strictDecode(aws.ToString(x.child(t, index).desc.Cause), &full); err != nil {
		t.Fatalf("child %d's cause: %v", index, err)
	}
	checkCauseFailure(t, r, full)
	r.Cause = full.Cause
	return r
}

// checkCauseFailure checks a failure listed in the execution's cause against the full
// failure result.
func checkCauseFailure(t *testing.T, short, full result) {
	t.Helper()
	cut := strings.TrimSuffix(short.Cause, "…")
	if short.MapIndex == nil || full.MapIndex == nil || *short.MapIndex != *full.MapIndex || short.Error != full.Error ||
		short.Status != full.Status || short.RoleARN != full.RoleARN || short.Region != full.Region ||
		short.Project != full.Project || cut == "" || !strings.HasPrefix(full.Cause, cut) {
		t.Errorf("failure in the execution's cause %+v does not match the target's failure %+v", short, full)
	}
}

// checkSucceeded checks a per-target result against the target and the build it ran.
func checkSucceeded(t *testing.T, r result, tg target, b codebuild.BuildInfo, completedBy string) {
	t.Helper()
	if r.Status != "SUCCEEDED" || r.CompletedBy != completedBy {
		t.Errorf("result of %s: status %s completedBy %q, want SUCCEEDED by %s (%s: %s)", b.ID, r.Status, r.CompletedBy, completedBy, r.Error, r.Cause)
	}
	if b.Status != codebuild.StatusSucceeded {
		t.Errorf("build %s ended %s", b.ID, b.Status)
	}
	if r.BuildARN != b.ARN || r.BuildID != b.ID || r.Account != tg.account() || r.Region != tg.str("region") || r.Project != tg.str("codeBuildProject") {
		t.Errorf("result %+v does not describe build %s (%s %s %s)", r, b.ARN, tg.account(), tg.str("region"), tg.str("codeBuildProject"))
	}
	if r.LogsDeepLink != b.LogsDeepLink || r.StartTime == "" || r.EndTime == "" || r.DurationSeconds == nil {
		t.Errorf("result of %s: logs %q (want %q), start %q, end %q, duration %v", b.ID, r.LogsDeepLink, b.LogsDeepLink, r.StartTime, r.EndTime, r.DurationSeconds)
	}
	want := slices.Sorted(maps.Keys(tg.expectedEnv()))
	if got := slices.Sorted(slices.Values(r.EnvOverrides)); !slices.Equal(got, want) {
		t.Errorf("result of %s: envOverrides %v, want %v", b.ID, got, want)
	}
}

// checkBuildFailure checks the failure result of a build that failed in its BUILD phase.
func checkBuildFailure(t *testing.T, r result, index int, tg target, b codebuild.BuildInfo) {
	t.Helper()
	checkTargetFailure(t, r, index, tg, "CodeBuild.FAILED")
	var c failureCause
	if err := strictDecode(r.Cause, &c); err != nil {
		t.Fatalf("cause %q: %v", r.Cause, err)
	}
	want := failureCause{BuildARN: b.ARN, Status: "FAILED", Phase: "BUILD", LogsDeepLink: b.LogsDeepLink}
	if c != want || c.LogsDeepLink == "" {
		t.Errorf("cause %+v, want %+v", c, want)
	}
}

// checkTargetFailure checks a failure result shaped by the state machine.
func checkTargetFailure(t *testing.T, r result, index int, tg target, errName string) {
	t.Helper()
	if r.Status != "FAILED" || r.Error != errName || r.Cause == "" {
		t.Errorf("result %d: status %s error %q cause %q, want FAILED with %s and a cause", index, r.Status, r.Error, r.Cause, errName)
	}
	checkNamesTarget(t, r, index, tg)
}

// checkAborted checks the failure result the summary rebuilds for a child the Map Run
// aborted: its status as the error, the target from the child's input.
func checkAborted(t *testing.T, r result, index int, tg target) {
	t.Helper()
	if r.Status != "ABORTED" || r.Error != "ABORTED" || r.Cause == "" {
		t.Errorf("result %d: status %s error %q cause %q, want ABORTED with a cause", index, r.Status, r.Error, r.Cause)
	}
	checkNamesTarget(t, r, index, tg)
}

func checkNamesTarget(t *testing.T, r result, index int, tg target) {
	t.Helper()
	if r.MapIndex == nil || *r.MapIndex != index || r.RoleARN != tg.str("arn") || r.Region != tg.str("region") || r.Project != tg.str("codeBuildProject") {
		t.Errorf("result %d %+v does not name its target %v", index, r, tg)
	}
	if r.CompletedBy != "" || r.BuildARN != "" {
		t.Errorf("failure result %d carries completedBy %q buildArn %q", index, r.CompletedBy, r.BuildARN)
	}
}

// checkEnvFile checks that the build's `env | tee env_vars.txt` printed the overrides and
// the correlation variables.
func checkEnvFile(t *testing.T, x *execution, index int, tg target, b codebuild.BuildInfo) {
	t.Helper()
	env := readEnvFile(t, b)
	want := tg.expectedEnv()
	want["CROSSBUILD_EXECUTION_ARN"] = x.arn
	want["CROSSBUILD_MAP_INDEX"] = strconv.Itoa(index)
	for k, v := range want {
		if env[k] != v {
			t.Errorf("build %s env_vars.txt: %s=%q, want %q", b.ID, k, env[k], v)
		}
	}
}

func readEnvFile(t *testing.T, b codebuild.BuildInfo) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(b.WorkDir, "env_vars.txt"))
	if err != nil {
		t.Fatalf("build %s: %v", b.ID, err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("build %s env_vars.txt: %v", b.ID, err)
	}
	return env
}

func phaseOf(b codebuild.BuildInfo, kind string) *codebuild.PhaseInfo {
	for i := range b.Phases {
		if b.Phases[i].Type == kind {
			return &b.Phases[i]
		}
	}
	return nil
}

// wantRecord checks a build's token record and returns it.
func (tw *testWorld) wantRecord(t *testing.T, b codebuild.BuildInfo, state, completedBy string) map[string]string {
	t.Helper()
	rec := tw.tokenRecord(t, b.ARN)
	if rec["state"] != state || rec["completedBy"] != completedBy || rec["buildId"] != b.ID {
		t.Errorf("record of %s: state %q completedBy %q buildId %q, want %s by %s", b.ARN, rec["state"], rec["completedBy"], rec["buildId"], state, completedBy)
	}
	return rec
}

// waitsShorterThan counts the visits of a Wait state whose history time, from entered to
// exited, is shorter than d.
func waitsShorterThan(h []sfntypes.HistoryEvent, state string, d time.Duration) int {
	short := 0
	var since *time.Time
	for _, e := range h {
		switch {
		case e.StateEnteredEventDetails != nil && aws.ToString(e.StateEnteredEventDetails.Name) == state:
			since = e.Timestamp
		case e.StateExitedEventDetails != nil && aws.ToString(e.StateExitedEventDetails.Name) == state && since != nil:
			if e.Timestamp.Sub(*since) < d {
				short++
			}
			since = nil
		}
	}
	return short
}
