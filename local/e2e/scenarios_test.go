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
// arithmetic"): every execution has fixedEvents (one fewer, failEvents, when it ends in
// the Fail state); an event-mode target adds eventTarget, one whose build fails
// failedEventTarget, one the starter refuses starterFailed; a poll-mode target adds
// pollTarget + pollRound per poll, a heartbeat fallback fallbackTarget + pollRound per poll.
const (
	fixedEvents       = 20
	failEvents        = 19
	eventTarget       = 14
	failedEventTarget = 16
	starterFailed     = 15
	pollTarget        = 15
	fallbackTarget    = 16
	pollRound         = 9
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
	wantSummary(t, o, 3, 3, 0)
	for i, tg := range targets {
		b := x.oneBuild(t, i)
		checkSucceeded(t, o.Results[i], tg, b, "event")
		checkEnvFile(t, x, i, tg, b)
	}
	if got := readEnvFile(t, x.oneBuild(t, 2))["DEPLOY_ENV"]; got != "staging" {
		t.Errorf("target 2's build printed DEPLOY_ENV=%q, want staging", got)
	}

	x.wantEvents(t, fixedEvents+3*eventTarget)
	x.wantScheduled(t, tw, 3, 0)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, 3)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSucceeded, 3)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskTimedOut, 0)
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionSucceeded)

	tw.settle(t)
	for i := range targets {
		tw.wantRecord(t, x.oneBuild(t, i), "COMPLETED", "event")
	}
	tw.noDeadLetters(t)
	wantTraces(t, tw, x, len(targets))
}

// wantTraces checks what an operator finds in X-Ray: the starter's invocations in the
// execution's trace, and every callback invocation of a build annotated with its ARN and
// linked back to that trace.
func wantTraces(t *testing.T, tw *testWorld, x *execution, targets int) {
	t.Helper()
	root, ok := tw.ExecutionTrace(x.arn)
	if !ok {
		t.Fatal("the traced state machine's execution has no X-Ray trace")
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := range targets {
		b := x.oneBuild(t, i)
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

// buildFails: the second target's build fails in its BUILD phase; the failure and its
// cause (status, phase, log link) reach the execution's error, the others succeed.
func buildFails(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	targets[otherIndex][varFail] = "yes"
	x := tw.run(t, "build-fails", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusFailed)
	if e := aws.ToString(x.desc.Error); e != "TargetsFailed" {
		t.Errorf("execution error %q, want TargetsFailed", e)
	}
	cause := aws.ToString(x.desc.Cause)
	list, ok := strings.CutPrefix(cause, "1 of 3 targets failed: ")
	var failed []result
	if !ok || json.Unmarshal([]byte(list), &failed) != nil || len(failed) != 1 {
		t.Fatalf("execution cause %q: want \"1 of 3 targets failed: \" and the one failure result", cause)
	}
	b := x.oneBuild(t, otherIndex)
	checkBuildFailure(t, failed[0], otherIndex, targets[otherIndex], b)

	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 2, 1)
	checkBuildFailure(t, o.Results[otherIndex], otherIndex, targets[otherIndex], b)
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

	x.wantEvents(t, failEvents+2*eventTarget+failedEventTarget)
	x.wantScheduled(t, tw, 3, 0)
	if got := taskErrors(x.history, sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"CodeBuild.FAILED"}) {
		t.Errorf("TaskFailed errors %v, want [CodeBuild.FAILED]", got)
	}
	if n := entered(x.history, "Target failed"); n != 1 {
		t.Errorf("Target failed entered %d times, want 1", n)
	}
	x.wantCount(t, sfntypes.HistoryEventTypeFailStateEntered, 1)
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionFailed)

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
	wantSummary(t, o, 3, 3, 0)
	for i, tg := range targets {
		by := "event"
		if i == otherIndex {
			by = "poll"
		}
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), by)
	}

	polls := scheduled(t, x.history, tw.pollerARN)
	if polls < 1 {
		t.Fatalf("the poller never ran:%s", typesOf(x.history))
	}
	x.wantEvents(t, fixedEvents+2*eventTarget+pollTarget+polls*pollRound)
	x.wantScheduled(t, tw, 3, polls)
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, 2) // the event-mode targets only
	for state, want := range map[string]int{
		"Start build for polling": 1, "Wait before polling": polls, "Poll build": polls,
		"Build finished?": polls, "Build succeeded": 1,
	} {
		if n := entered(x.history, state); n != want {
			t.Errorf("%s entered %d times, want %d", state, n, want)
		}
	}
	// The time scale shortens the Waits but history time shows the interval asked for.
	if short := waitsShorterThan(x.history, "Wait before polling", 5*time.Second); short > 0 {
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
	targets[otherIndex]["heartbeatSeconds"] = 60 // the smallest the starter accepts
	x := tw.run(t, "events-dropped", input(targets, nil))
	x.wantStatus(t, sfntypes.ExecutionStatusSucceeded)
	o := x.decodeOutput(t)
	wantSummary(t, o, 3, 3, 0)
	for i, tg := range targets {
		by := "event"
		if i == otherIndex {
			by = "poll"
		}
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), by) // one build each: no second start
	}

	if got := taskErrors(x.history, sfntypes.HistoryEventTypeTaskTimedOut); !slices.Equal(got, []string{"States.HeartbeatTimeout"}) {
		t.Errorf("TaskTimedOut errors %v, want [States.HeartbeatTimeout]", got)
	}
	if n := entered(x.history, "Fall back to polling"); n != 1 {
		t.Errorf("Fall back to polling entered %d times, want 1 (the timeout caught)", n)
	}
	// The Catch put the timeout next to the iteration's state (ResultPath $.fallback).
	var caught struct{ Fallback struct{ Error string } }
	if out, _ := stateOutput(x.history, "Fall back to polling"); json.Unmarshal([]byte(out), &caught) != nil ||
		caught.Fallback.Error != "States.HeartbeatTimeout" {
		t.Errorf("Fall back to polling output %s, want the caught States.HeartbeatTimeout in fallback", out)
	}
	polls := scheduled(t, x.history, tw.pollerARN)
	if polls < 1 {
		t.Fatalf("the poller never ran:%s", typesOf(x.history))
	}
	x.wantEvents(t, fixedEvents+2*eventTarget+fallbackTarget+polls*pollRound)
	x.wantScheduled(t, tw, 3, polls)
	if n := entered(x.history, "Wait before polling"); n != polls-1 {
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
// TargetNotAllowed; no build starts for them and the allowed targets run.
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
	wantSummary(t, o, len(all), len(targets), len(refused))
	if len(o.FailedTargets) != len(refused) {
		t.Errorf("%d failedTargets, want %d", len(o.FailedTargets), len(refused))
	}
	for i, tg := range targets {
		checkSucceeded(t, o.Results[i], tg, x.oneBuild(t, i), "event")
	}
	for k, tg := range refused {
		i := len(targets) + k
		checkTargetFailure(t, o.Results[i], i, tg, "TargetNotAllowed")
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

	x.wantEvents(t, fixedEvents+len(targets)*eventTarget+len(refused)*starterFailed)
	x.wantScheduled(t, tw, len(all), 0) // refused once each: not retried
	x.wantCount(t, sfntypes.HistoryEventTypeTaskSubmitted, len(targets))
	if got := taskErrors(x.history, sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"TargetNotAllowed", "TargetNotAllowed"}) {
		t.Errorf("TaskFailed errors %v, want TargetNotAllowed twice", got)
	}
	x.wantLast(t, sfntypes.HistoryEventTypeExecutionSucceeded)
	tw.settle(t)
	tw.noDeadLetters(t)
}

// stoppedMidBuild: StopExecution while the builds run. The execution ends ABORTED; the
// builds run on (stopping an execution does not stop its builds), and their late events
// are harmless: the callback finds the tasks closed and settles the records.
func stoppedMidBuild(t *testing.T, tw *testWorld) {
	targets := defaultTargets(t)
	for _, tg := range targets {
		tg[varSleep] = 3
	}
	arn := tw.start(t, "stopped-mid-build", input(targets, nil))

	// Stop once every task waits for its token and every build runs.
	err := poll(executionTimeout, func() (bool, error) {
		builds := tw.buildsOf(arn)
		for _, bs := range builds {
			if len(bs) > 0 && bs[0].Complete {
				return false, fmt.Errorf("build %s finished before every task waited; the builds need a longer %s", bs[0].ID, varSleep)
			}
		}
		h, err := tw.sfn.GetExecutionHistory(t.Context(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
		if err != nil {
			return false, err
		}
		return count(h.Events, sfntypes.HistoryEventTypeTaskSubmitted) == len(targets) && len(builds) == len(targets), nil
	})
	if err != nil {
		t.Fatalf("waiting for the builds to run: %v", err)
	}
	if _, err := tw.sfn.StopExecution(t.Context(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String("Scenario.Stopped"), Cause: aws.String("stopped mid-build")}); err != nil {
		t.Fatalf("stop execution: %v", err)
	}
	x := tw.read(t, arn)
	x.wantStatus(t, sfntypes.ExecutionStatusAborted)
	last := x.history[len(x.history)-1]
	if last.Type != sfntypes.HistoryEventTypeExecutionAborted || last.ExecutionAbortedEventDetails == nil ||
		aws.ToString(last.ExecutionAbortedEventDetails.Error) != "Scenario.Stopped" {
		t.Fatalf("last event %s %+v, want ExecutionAborted with the stop's error", last.Type, last.ExecutionAbortedEventDetails)
	}
	for i := range targets {
		if b := x.oneBuild(t, i); b.Complete {
			t.Fatalf("build %d had already finished when the execution was stopped", i)
		}
	}
	x.wantScheduled(t, tw, 3, 0)

	tw.settle(t)
	after := tw.read(t, arn)
	after.wantStatus(t, sfntypes.ExecutionStatusAborted)
	if len(after.history) != len(x.history) {
		t.Errorf("the history grew from %d to %d events after the abort:%s", len(x.history), len(after.history), typesOf(after.history[len(x.history):]))
	}
	for i := range targets {
		b := after.oneBuild(t, i)
		if b.Status != codebuild.StatusSucceeded {
			t.Errorf("build %d ended %s, want SUCCEEDED: stopping the execution does not stop builds", i, b.Status)
		}
		// The terminal event reached the callback after the task was closed: it claimed the
		// record, got TaskTimedOut from SendTaskSuccess and marked the record completed.
		var rec map[string]string
		err := poll(settleTimeout, func() (bool, error) {
			rec = tw.tokenRecord(t, b.ARN)
			return rec["state"] == "COMPLETED", nil
		})
		if err != nil || rec["completedBy"] != "event" {
			t.Errorf("record of build %d: state %q completedBy %q, want COMPLETED by event", i, rec["state"], rec["completedBy"])
		}
	}
	tw.noDeadLetters(t)
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
	wantSummary(t, o, 3, 2, 1)
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

	x.wantEvents(t, fixedEvents+2*eventTarget+starterFailed)
	x.wantScheduled(t, tw, 3, 0) // AssumeRoleFailed is not retried
	if got := taskErrors(x.history, sfntypes.HistoryEventTypeTaskFailed); !slices.Equal(got, []string{"AssumeRoleFailed"}) {
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

func (x *execution) wantEvents(t *testing.T, want int) {
	t.Helper()
	if len(x.history) != want {
		t.Errorf("%d history events, want %d:%s", len(x.history), want, typesOf(x.history))
	}
}

func (x *execution) wantCount(t *testing.T, typ sfntypes.HistoryEventType, want int) {
	t.Helper()
	if n := count(x.history, typ); n != want {
		t.Errorf("%d %s events, want %d", n, typ, want)
	}
}

// wantScheduled checks how many starter and poller tasks were scheduled: one starter task
// per target means no build was started twice.
func (x *execution) wantScheduled(t *testing.T, tw *testWorld, starter, poller int) {
	t.Helper()
	if n := scheduled(t, x.history, tw.starterARN); n != starter {
		t.Errorf("the starter was scheduled %d times, want %d", n, starter)
	}
	if n := scheduled(t, x.history, tw.pollerARN); n != poller {
		t.Errorf("the poller was scheduled %d times, want %d", n, poller)
	}
	if n := count(x.history, sfntypes.HistoryEventTypeTaskScheduled); n != starter+poller {
		t.Errorf("%d tasks scheduled, want %d", n, starter+poller)
	}
}

func (x *execution) wantLast(t *testing.T, typ sfntypes.HistoryEventType) {
	t.Helper()
	if len(x.history) == 0 || x.history[len(x.history)-1].Type != typ {
		t.Errorf("the history does not end with %s:%s", typ, typesOf(x.history))
	}
}

func wantSummary(t *testing.T, o output, total, succeeded, failed int) {
	t.Helper()
	s := o.Summary
	if s.Total != total || s.Succeeded != succeeded || s.Failed != failed || len(o.Results) != total {
		t.Fatalf("summary %+v with %d results, want total %d, succeeded %d, failed %d", s, len(o.Results), total, succeeded, failed)
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
	dec := json.NewDecoder(strings.NewReader(r.Cause))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
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
