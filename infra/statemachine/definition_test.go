package statemachine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/crossbuild/crossbuild/internal/polling"
)

func params() Params {
	return Params{
		PlannerARN:    "arn:aws:lambda:eu-west-1:111111111111:function:planner",
		StarterARN:    "arn:aws:lambda:eu-west-1:111111111111:function:starter",
		PollerARN:     "arn:aws:lambda:eu-west-1:111111111111:function:poller",
		SummariserARN: "arn:aws:lambda:eu-west-1:111111111111:function:summariser",
		CancellerARN:  "arn:aws:lambda:eu-west-1:111111111111:function:canceller",
	}
}

// definition builds the definition and decodes it back, as Step Functions will read it.
func definition(t *testing.T) map[string]any {
	t.Helper()
	s, err := Definition(params())
	if err != nil {
		t.Fatalf("Definition: %v", err)
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(s), &def); err != nil {
		t.Fatalf("decode definition: %v", err)
	}
	return def
}

// states returns the top-level states and the states of a target's child execution.
func states(t *testing.T, def map[string]any) (top, child map[string]any) {
	t.Helper()
	top = def["States"].(map[string]any)
	child = top[StateRunTargets].(map[string]any)["ItemProcessor"].(map[string]any)["States"].(map[string]any)
	return top, child
}

func state(t *testing.T, set map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := set[name].(map[string]any)
	if !ok {
		t.Fatalf("state %q missing", name)
	}
	return s
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestParamsValidation(t *testing.T) {
	for _, modify := range []func(*Params){
		func(p *Params) { p.PlannerARN = "" },
		func(p *Params) { p.StarterARN = "" },
		func(p *Params) { p.PollerARN = "" },
		func(p *Params) { p.SummariserARN = "" },
	} {
		p := params()
		modify(&p)
		if _, err := Definition(p); err == nil {
			t.Errorf("Definition accepted %+v", p)
		}
	}
}

// TestPlanRun: the whole input goes to the planner, whose InvalidInput ends the execution
// with the planner's message as the cause; nothing else reads the raw input.
func TestPlanRun(t *testing.T) {
	def := definition(t)
	top, _ := states(t, def)
	if def["StartAt"] != StatePlanRun {
		t.Fatalf("StartAt = %v", def["StartAt"])
	}
	plan := state(t, top, StatePlanRun)
	p := plan["Parameters"].(map[string]any)
	want := map[string]any{"input.$": "$", "executionArn.$": "$$.Execution.Id", "executionName.$": "$$.Execution.Name"}
	if p["FunctionName"] != params().PlannerARN || !equalJSON(p["Payload"], want) {
		t.Errorf("plan parameters = %v", p)
	}
	if plan["OutputPath"] != "$.plan" || plan["Next"] != StateRunTargets {
		t.Errorf("plan = %v", plan)
	}
	catches := plan["Catch"].([]any)
	// ResultPath "$": a JSON array or string as the execution input has no "$.error" to set.
	if len(catches) != 1 || !slices.Equal(strs(catches[0].(map[string]any)["ErrorEquals"]), []string{ErrInvalidInput}) ||
		catches[0].(map[string]any)["Next"] != StateReadInputError || catches[0].(map[string]any)["ResultPath"] != "$" {
		t.Errorf("plan Catch = %v", catches)
	}
	if got := state(t, top, StateReadInputError)["Parameters"].(map[string]any)["document.$"]; got != "States.StringToJson($.Cause)" {
		t.Errorf("%s reads %v", StateReadInputError, got)
	}
	if got := state(t, top, StateReadInputError)["Next"]; got != StateInvalidInput {
		t.Errorf("%s → %v", StateReadInputError, got)
	}
	fail := state(t, top, StateInvalidInput)
	if fail["Type"] != "Fail" || fail["Error"] != ErrInvalidInput || fail["CausePath"] != "$.document.errorMessage" {
		t.Errorf("invalid input = %v", fail)
	}
}

// TestDistributedMap: each target is a Standard child execution reading its item from the
// planner's file; results go to the bucket; tolerance is the Map Run's own.
func TestDistributedMap(t *testing.T) {
	top, _ := states(t, definition(t))
	m := state(t, top, StateRunTargets)
	proc := m["ItemProcessor"].(map[string]any)["ProcessorConfig"].(map[string]any)
	if proc["Mode"] != "DISTRIBUTED" || proc["ExecutionType"] != "STANDARD" {
		t.Errorf("ProcessorConfig = %v: task tokens need Standard child executions", proc)
	}
	reader := m["ItemReader"].(map[string]any)
	if reader["Resource"] != S3GetObject || !equalJSON(reader["Parameters"], map[string]any{"Bucket.$": "$.items.bucket", "Key.$": "$.items.key"}) ||
		reader["ReaderConfig"].(map[string]any)["InputType"] != "JSON" {
		t.Errorf("ItemReader = %v", reader)
	}
	if _, inline := m["ItemsPath"]; inline {
		t.Error("targets must come from the planner's items file, not the state input")
	}
	sel := map[string]any{
		"target.$": "$$.Map.Item.Value.target", "settings.$": "$$.Map.Item.Value.settings", "problem.$": "$$.Map.Item.Value.problem",
		"mapIndex.$": "$$.Map.Item.Index", "executionArn.$": "$$.Execution.Id",
	}
	if !equalJSON(m["ItemSelector"], sel) {
		t.Errorf("ItemSelector = %v", m["ItemSelector"])
	}
	for field, path := range map[string]string{
		"MaxConcurrencyPath": "$.maxConcurrency", "ToleratedFailureCountPath": "$.toleratedFailureCount",
		"ToleratedFailurePercentagePath": "$.toleratedFailurePercentage", "ResultPath": "$.mapRun", "Label": MapRunLabel,
	} {
		if m[field] != path {
			t.Errorf("%s = %v, want %s", field, m[field], path)
		}
	}
	writer := m["ResultWriter"].(map[string]any)
	if writer["Resource"] != S3PutObject || !equalJSON(writer["Parameters"], map[string]any{"Bucket.$": "$.results.bucket", "Prefix.$": "$.results.prefix"}) {
		t.Errorf("ResultWriter = %v", writer)
	}
	catches := m["Catch"].([]any)
	if len(catches) != 1 {
		t.Fatalf("Map Catch = %v", catches)
	}
	c := catches[0].(map[string]any)
	if !slices.Equal(strs(c["ErrorEquals"]), []string{ErrToleranceExceeded}) || c["Next"] != StateSummarise || c["ResultPath"] != "$.mapRunError" {
		t.Errorf("Map Catch = %v: a Map Run beyond tolerance must still be summarised", c)
	}
	if m["Next"] != StateSummarise {
		t.Errorf("Map Next = %v", m["Next"])
	}
}

func TestEventWait(t *testing.T) {
	_, it := states(t, definition(t))
	task := state(t, it, StateStartAndWait)
	if task["Resource"] != LambdaInvokeWithToken {
		t.Errorf("Resource = %v, want %s", task["Resource"], LambdaInvokeWithToken)
	}
	p := task["Parameters"].(map[string]any)
	if p["FunctionName"] != params().StarterARN {
		t.Errorf("FunctionName = %v", p["FunctionName"])
	}
	want := map[string]any{
		"taskToken.$":    "$$.Task.Token",
		"target.$":       "$.target",
		"executionArn.$": "$.executionArn",
		"mapIndex.$":     "$.mapIndex",
	}
	if !equalJSON(p["Payload"], want) {
		t.Errorf("Payload = %v, want %v", p["Payload"], want)
	}
	if task["HeartbeatSecondsPath"] != "$.settings.heartbeatSeconds" || task["TimeoutSecondsPath"] != "$.settings.timeoutSeconds" {
		t.Errorf("heartbeat/timeout paths = %v / %v", task["HeartbeatSecondsPath"], task["TimeoutSecondsPath"])
	}
	if task["End"] != true {
		t.Error("the event wait must end the child with the callback's result")
	}
	catches := task["Catch"].([]any)
	if len(catches) != 3 {
		t.Fatalf("Catch = %v", catches)
	}
	ended := catches[1].(map[string]any)
	if got := strs(ended["ErrorEquals"]); !slices.Equal(got, NoBuildRunningErrors) || ended["Next"] != StateTargetFailed {
		t.Errorf("second Catch = %v, want %v → %s", ended, NoBuildRunningErrors, StateTargetFailed)
	}
	first := catches[0].(map[string]any)
	if got := strs(first["ErrorEquals"]); !slices.Equal(got, TimeoutErrors) || first["Next"] != StateFallBack {
		t.Errorf("first Catch = %v, want %v → %s", first, TimeoutErrors, StateFallBack)
	}
	last := catches[2].(map[string]any)
	if got := strs(last["ErrorEquals"]); !slices.Equal(got, []string{"States.ALL"}) || last["Next"] != StateStopTargetBuild {
		t.Errorf("last Catch = %v, want States.ALL → %s", last, StateStopTargetBuild)
	}
}

// TestFallbackPollsSameBuild: the fallback never calls the starter again; it asks the
// poller for the build by execution ARN and map index, starting at the target's interval.
func TestFallbackPollsSameBuild(t *testing.T) {
	_, it := states(t, definition(t))
	fb := state(t, it, StateFallBack)
	if fb["Next"] != StatePollBuild {
		t.Errorf("fallback goes to %v, want %s", fb["Next"], StatePollBuild)
	}
	want := map[string]any{"payload": map[string]any{"next": map[string]any{
		"executionArn.$": "$.executionArn", "mapIndex.$": "$.mapIndex", "intervalSeconds.$": "$.settings.pollIntervalSeconds",
	}}}
	if got := fb["Parameters"]; !equalJSON(got, want) || fb["ResultPath"] != "$.poll" {
		t.Errorf("fallback request = %v at %v, want %v at $.poll", got, fb["ResultPath"], want)
	}
	poll := state(t, it, StatePollBuild)
	p := poll["Parameters"].(map[string]any)
	if p["FunctionName"] != params().PollerARN || p["Payload.$"] != "$.poll.payload.next" || poll["ResultPath"] != "$.poll" {
		t.Errorf("poll = %v", poll)
	}
	for _, name := range reachable(it, StateFallBack) {
		if s := it[name].(map[string]any); s["Type"] == "Task" {
			if fn := s["Parameters"].(map[string]any)["FunctionName"]; fn == params().StarterARN {
				t.Errorf("state %q reachable from the fallback invokes the starter", name)
			}
		}
	}
}

// TestPollingBranch: poll mode starts without a token, waits the interval the last poll
// asked for, and loops until a terminal status.
func TestPollingBranch(t *testing.T) {
	_, it := states(t, definition(t))
	check := state(t, it, StateCheckTarget)
	var toPoll bool
	for _, c := range check["Choices"].([]any) {
		if c.(map[string]any)["Next"] == StateStartForPolling {
			toPoll = strings.Contains(mustJSON(t, c), `"StringEquals":"poll"`)
		}
	}
	if !toPoll || check["Default"] != StateStartAndWait {
		t.Errorf("check: completion poll → %s, default → %s expected; got %v", StateStartForPolling, StateStartAndWait, check)
	}
	start := state(t, it, StateStartForPolling)
	if start["Resource"] != LambdaInvoke || start["Next"] != StateWaitBeforePolling || start["ResultPath"] != "$.poll" {
		t.Errorf("start for polling = %v", start)
	}
	if _, hasToken := start["Parameters"].(map[string]any)["Payload"].(map[string]any)["taskToken.$"]; hasToken {
		t.Error("the polling start must not pass a task token")
	}
	next := start["ResultSelector"].(map[string]any)["payload"].(map[string]any)["next"].(map[string]any)
	if next["intervalSeconds.$"] != "$.Payload.pollIntervalSeconds" || next["buildId.$"] != "$.Payload.buildId" {
		t.Errorf("the first poll request = %v", next)
	}
	wait := state(t, it, StateWaitBeforePolling)
	if wait["SecondsPath"] != "$.poll.payload.next.intervalSeconds" || wait["Next"] != StatePollBuild {
		t.Errorf("wait = %v", wait)
	}
	finished := state(t, it, StateBuildFinished)
	if finished["Default"] != StateWaitBeforePolling {
		t.Errorf("a build still running must loop to the wait, got %v", finished["Default"])
	}
	nexts := map[string]bool{}
	for _, c := range finished["Choices"].([]any) {
		nexts[c.(map[string]any)["Next"].(string)] = true
	}
	if !nexts[StateBuildSucceeded] || !nexts[StateBuildFailed] {
		t.Errorf("choice on status must finish both ways: %v", nexts)
	}
}

func TestRetries(t *testing.T) {
	top, it := states(t, definition(t))
	never := []string{"InvalidTarget", "InvalidInput", "TargetNotAllowed", "StartBuildFailed", "AssumeRoleFailed", "States.ALL", "States.Timeout", "States.HeartbeatTimeout"}
	for _, tc := range []struct {
		set  map[string]any
		name string
		want []string
	}{
		{it, StateStartAndWait, RetriedErrors},
		{it, StateStartForPolling, RetriedErrors},
		{it, StatePollBuild, slices.DeleteFunc(slices.Clone(RetriedErrors), func(s string) bool { return s == "BuildQuotaExceeded" })},
		{top, StatePlanRun, append(slices.Clone(LambdaServiceErrors), "TransientError")},
		{top, StateSummarise, append(slices.Clone(LambdaServiceErrors), "TransientError")},
	} {
		task := state(t, tc.set, tc.name)
		var retried []string
		for _, r := range task["Retry"].([]any) {
			rule := r.(map[string]any)
			retried = append(retried, strs(rule["ErrorEquals"])...)
			if rule["BackoffRate"].(float64) < 2 || rule["MaxAttempts"].(float64) < 3 {
				t.Errorf("%s: retry %v lacks backoff", tc.name, rule)
			}
		}
		for _, e := range tc.want {
			if !slices.Contains(retried, e) {
				t.Errorf("%s does not retry %s", tc.name, e)
			}
		}
		for _, e := range never {
			if slices.Contains(retried, e) {
				t.Errorf("%s retries %s", tc.name, e)
			}
		}
	}
}

// retryWindow is the longest a Retry rule waits in all: the sum of its capped intervals.
func retryWindow(rule map[string]any) float64 {
	interval, rate := rule["IntervalSeconds"].(float64), rule["BackoffRate"].(float64)
	limit, _ := rule["MaxDelaySeconds"].(float64)
	total := 0.0
	for range int(rule["MaxAttempts"].(float64)) {
		wait := interval
		if limit > 0 && wait > limit {
			wait = limit
		}
		total += wait
		interval *= rate
	}
	return total
}

// TestRetryWindows: waiting for CodeBuild capacity lasts about as long as CodeBuild keeps a
// queued build (8 hours), a poll outlasts an hour of throttling, and the retries that may
// follow a started build stay within StartBuild's 5-minute idempotency window.
func TestRetryWindows(t *testing.T) {
	_, it := states(t, definition(t))
	window := func(name, errName string) float64 {
		for _, r := range state(t, it, name)["Retry"].([]any) {
			rule := r.(map[string]any)
			if slices.Contains(strs(rule["ErrorEquals"]), errName) {
				return retryWindow(rule)
			}
		}
		t.Fatalf("%s does not retry %s", name, errName)
		return 0
	}
	for _, st := range []string{StateStartAndWait, StateStartForPolling} {
		if w := window(st, "BuildQuotaExceeded"); w < 7*3600 || w > 8*3600 {
			t.Errorf("%s waits up to %.0f s for CodeBuild capacity, want 7 to 8 hours", st, w)
		}
		// Transient trouble is given minutes, not hours: a target that cannot reach its
		// dependencies should fail while someone is still watching.
		if w := window(st, "TransientError") + window(st, "Lambda.ServiceException"); w >= 300 {
			t.Errorf("%s: transient errors are retried for up to %.0f s, want under 5 minutes", st, w)
		}
		// Every way an invocation can be cut short is retried, briefly (the starter is
		// idempotent at any delay: intent-first).
		for _, e := range InterruptedErrors {
			if w := window(st, e); w <= 0 || w > 60 {
				t.Errorf("%s retries %s for %.0f s, want up to a minute", st, e, w)
			}
		}
		// docs/scale.md "The envelope of one target".
		total := window(st, "Lambda.ServiceException") + window(st, "Sandbox.Timedout") + window(st, "BuildQuotaExceeded") + window(st, "TransientError")
		if total < 7*3600 || total > 8*3600 {
			t.Errorf("%s: the retries of one target wait up to %.0f s, want 7 to 8 hours (docs/scale.md)", st, total)
		}
	}
	for _, e := range InterruptedErrors {
		if window(StatePollBuild, e) <= 0 {
			t.Errorf("a poll interrupted by %s is not retried", e)
		}
	}
	for _, e := range []string{"TransientError", "Lambda.TooManyRequestsException"} {
		if w := window(StatePollBuild, e); w < 3600 {
			t.Errorf("a poll gives up on %s after %.0f s, want at least an hour", e, w)
		}
	}
}

// TestFailuresFailTheChild: every way a target can fail shapes a result with status FAILED,
// an error and a cause, and then fails the child with that error name, so the Map Run
// counts it against the tolerance and the result file keeps the result as the cause.
func TestFailuresFailTheChild(t *testing.T) {
	_, it := states(t, definition(t))
	var fails []string
	for name, raw := range it {
		s := raw.(map[string]any)
		switch s["Type"] {
		case "Fail":
			fails = append(fails, name)
		case "Task":
			catches := s["Catch"].([]any)
			last := catches[len(catches)-1].(map[string]any)
			if !slices.Equal(strs(last["ErrorEquals"]), []string{"States.ALL"}) {
				t.Errorf("task %q does not catch States.ALL last", name)
			}
		}
	}
	if !slices.Equal(fails, []string{StateFailTarget}) {
		t.Errorf("Fail states in the child: %v, want only %s", fails, StateFailTarget)
	}
	fail := state(t, it, StateFailTarget)
	if fail["ErrorPath"] != "$.error" || fail["CausePath"] != "States.JsonToString($)" {
		t.Errorf("%s = %v", StateFailTarget, fail)
	}
	for _, name := range []string{StateTargetFailed, StateBuildFailed, StateInvalidTarget} {
		s := state(t, it, name)
		p := s["Parameters"].(map[string]any)
		if s["Type"] != "Pass" || s["Next"] != StateFailTarget || p["status"] != "FAILED" {
			t.Errorf("%s = %v, want a Pass with status FAILED leading to %s", name, s, StateFailTarget)
		}
		_, e1 := p["error"]
		_, e2 := p["error.$"]
		_, c1 := p["cause"]
		_, c2 := p["cause.$"]
		if !(e1 || e2) || !(c1 || c2) {
			t.Errorf("%s result lacks error or cause: %v", name, p)
		}
	}
	if got := state(t, it, StateInvalidTarget)["Parameters"].(map[string]any); got["error"] != ErrInvalidTarget || got["cause.$"] != "$.problem" {
		t.Errorf("invalid target result = %v", got)
	}
}

func TestSummaryAndFailure(t *testing.T) {
	top, _ := states(t, definition(t))
	sum := state(t, top, StateSummarise)
	p := sum["Parameters"].(map[string]any)
	if p["FunctionName"] != params().SummariserARN || p["Payload.$"] != "$" || sum["OutputPath"] != "$.report" || sum["Next"] != StateCheckFailures {
		t.Errorf("summarise = %v", sum)
	}
	check := state(t, top, StateCheckFailures)
	if check["Default"] != StateTargetsFailed || len(check["Choices"].([]any)) != 1 ||
		check["Choices"].([]any)[0].(map[string]any)["Next"] != StateDone {
		t.Errorf("failures beyond the tolerance must fail the execution: %v", check)
	}
	fail := state(t, top, StateTargetsFailed)
	if fail["Error"] != ErrTargetsFailed || fail["CausePath"] != "$.cause" {
		t.Errorf("fail state = %v", fail)
	}
	done := state(t, top, StateDone)
	if done["Type"] != "Succeed" || done["OutputPath"] != "$.output" {
		t.Errorf("Done = %v", done)
	}
}

// TestStateNamesUnique: Step Functions requires state names to be unique across the whole
// definition, the Map's child states included.
func TestStateNamesUnique(t *testing.T) {
	top, it := states(t, definition(t))
	for name := range it {
		if _, dup := top[name]; dup {
			t.Errorf("state %q is both a top-level and a child state", name)
		}
	}
}

// TestGraph: every transition names an existing state, every state is reachable and
// every state can reach an end.
func TestGraph(t *testing.T) {
	def := definition(t)
	top, it := states(t, def)
	for _, set := range []struct {
		start  string
		states map[string]any
	}{{def["StartAt"].(string), top}, {StateCheckTarget, it}} {
		for name, raw := range set.states {
			for _, next := range successors(raw.(map[string]any)) {
				if _, ok := set.states[next]; !ok {
					t.Errorf("%s → %q: no such state", name, next)
				}
			}
		}
		seen := reachable(set.states, set.start)
		if len(seen) != len(set.states) {
			t.Errorf("reachable from %s: %d of %d states", set.start, len(seen), len(set.states))
		}
	}
}

// Step Functions history events per visit of a state (Standard workflow, JSONPath).
func eventsOf(s map[string]any) int {
	switch s["Type"] {
	case "Task":
		if s["Resource"] == LambdaInvokeWithToken {
			return 6 // Entered, Scheduled, Started, Submitted, Succeeded|Failed|TimedOut, Exited
		}
		return 5 // Entered, Scheduled, Started, Succeeded|Failed, Exited
	case "Map":
		// MapStateEntered, MapStateStarted, MapRunStarted, MapRunSucceeded|Failed,
		// MapStateSucceeded|Failed, MapStateExited: a Distributed Map's children have
		// histories of their own.
		return 6
	case "Fail":
		return 1 // FailStateEntered
	default:
		return 2 // Entered, Exited
	}
}

// walk sums the events along a path of states, checking each step is a real transition.
func walk(t *testing.T, set map[string]any, path ...string) int {
	t.Helper()
	total := 0
	for i, name := range path {
		s := state(t, set, name)
		total += eventsOf(s)
		if i+1 < len(path) && !slices.Contains(successors(s), path[i+1]) {
			t.Fatalf("%s does not lead to %s", name, path[i+1])
		}
	}
	if last := state(t, set, path[len(path)-1]); last["End"] != true && last["Type"] != "Succeed" && last["Type"] != "Fail" {
		t.Fatalf("path ends at %s, which is not terminal", path[len(path)-1])
	}
	return total
}

// TestHistoryArithmetic derives the history of the parent and of each child execution from
// the definition and the poller's schedule (internal/polling), and checks that
// docs/architecture.md states the same figures.
func TestHistoryArithmetic(t *testing.T) {
	def := definition(t)
	top, it := states(t, def)
	const execution = 2 // ExecutionStarted, ExecutionSucceeded|Failed

	parent := execution + walk(t, top, StatePlanRun, StateRunTargets, StateSummarise, StateCheckFailures, StateDone)
	event := execution + walk(t, it, StateCheckTarget, StateStartAndWait)
	failed := execution + walk(t, it, StateCheckTarget, StateStartAndWait, StateTargetFailed, StateFailTarget)
	stopped := execution + walk(t, it, StateCheckTarget, StateStartAndWait, StateStopTargetBuild, StateTargetFailed, StateFailTarget)
	cycle := walk(t, it, StateWaitBeforePolling, StatePollBuild, StateBuildFinished, StateBuildSucceeded) - eventsOf(state(t, it, StateBuildSucceeded))
	pollFixed := execution + walk(t, it, StateCheckTarget, StateStartForPolling, StateWaitBeforePolling, StatePollBuild,
		StateBuildFinished, StateBuildSucceeded) - cycle
	// The fallback's first poll has no Wait before it: one cycle minus the Wait.
	fallbackFixed := execution + eventsOf(state(t, it, StateCheckTarget)) + eventsOf(state(t, it, StateStartAndWait)) +
		eventsOf(state(t, it, StateFallBack)) + eventsOf(state(t, it, StateBuildSucceeded)) - eventsOf(state(t, it, StateWaitBeforePolling))
	if parent != 22 || event != 10 || failed != 13 || stopped != 18 || pollFixed != 11 || fallbackFixed != 12 || cycle != 9 {
		t.Fatalf("parent %d, child: event %d, failed %d (%d stopping its build), polling %d + %d × polls, fallback %d + %d × polls: update docs/architecture.md",
			parent, event, failed, stopped, pollFixed, cycle, fallbackFixed, cycle)
	}

	// Poll mode from the start, default interval and cap, for builds of 1 minute, 1 hour and
	// 24 hours: the child's history stays far below 25,000 events, and below 1,000.
	var want []string
	for _, minutes := range []int{1, 60, 1440} {
		polls := len(polling.Schedule(minutes*60, 20, polling.DefaultCapSeconds, 20, 10_000))
		events := pollFixed + cycle*polls
		if events >= 1000 {
			t.Errorf("a %d-minute build in poll mode: %d events", minutes, events)
		}
		want = append(want, fmt.Sprintf("| %s | %d | %d |", buildLength(minutes), polls, events))
	}
	want = append(want, "22 events", "10 events", "11 + 9 × n", "12 + 9 × n")

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("read docs/architecture.md: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(string(doc), w) {
			t.Errorf("docs/architecture.md does not state %q", w)
		}
	}
}

func buildLength(minutes int) string {
	if minutes < 60 {
		return fmt.Sprintf("%d minute", minutes)
	}
	if minutes == 60 {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", minutes/60)
}

func successors(s map[string]any) []string {
	var out []string
	add := func(v any) {
		if n, ok := v.(string); ok {
			out = append(out, n)
		}
	}
	add(s["Next"])
	add(s["Default"])
	for _, key := range []string{"Choices", "Catch"} {
		if list, ok := s[key].([]any); ok {
			for _, c := range list {
				add(c.(map[string]any)["Next"])
			}
		}
	}
	return out
}

func reachable(set map[string]any, start string) []string {
	seen := map[string]bool{}
	queue := []string{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		if s, ok := set[n].(map[string]any); ok {
			queue = append(queue, successors(s)...)
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
