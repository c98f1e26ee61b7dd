package statemachine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func params() Params {
	return Params{
		StarterARN:          "arn:aws:lambda:eu-west-1:111111111111:function:starter",
		PollerARN:           "arn:aws:lambda:eu-west-1:111111111111:function:poller",
		MaxConcurrency:      10,
		HeartbeatSeconds:    3600,
		TimeoutSeconds:      28800,
		PollIntervalSeconds: 20,
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

func states(t *testing.T, def map[string]any) (top, iteration map[string]any) {
	t.Helper()
	top = def["States"].(map[string]any)
	iteration = top[StateRunTargets].(map[string]any)["ItemProcessor"].(map[string]any)["States"].(map[string]any)
	return top, iteration
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
	tests := []struct {
		name   string
		modify func(*Params)
	}{
		{"no starter", func(p *Params) { p.StarterARN = "" }},
		{"negative concurrency", func(p *Params) { p.MaxConcurrency = -1 }},
		{"heartbeat too short", func(p *Params) { p.HeartbeatSeconds = 10 }},
		{"timeout not above heartbeat", func(p *Params) { p.TimeoutSeconds = p.HeartbeatSeconds }},
		{"poll too fast", func(p *Params) { p.PollIntervalSeconds = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := params()
			tt.modify(&p)
			if _, err := Definition(p); err == nil {
				t.Fatal("Definition accepted invalid parameters")
			}
		})
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
	payload := p["Payload"].(map[string]any)
	want := map[string]any{
		"taskToken.$":    "$$.Task.Token",
		"target.$":       "$.target",
		"executionArn.$": "$.executionArn",
		"mapIndex.$":     "$.mapIndex",
	}
	for k, v := range want {
		if payload[k] != v {
			t.Errorf("Payload[%s] = %v, want %v", k, payload[k], v)
		}
	}
	if task["HeartbeatSecondsPath"] != "$.settings.heartbeatSeconds" || task["TimeoutSecondsPath"] != "$.settings.timeoutSeconds" {
		t.Errorf("heartbeat/timeout paths = %v / %v", task["HeartbeatSecondsPath"], task["TimeoutSecondsPath"])
	}
	if task["End"] != true {
		t.Error("the event wait must end the iteration with the callback's result")
	}

	catches := task["Catch"].([]any)
	if len(catches) != 2 {
		t.Fatalf("Catch = %v", catches)
	}
	first := catches[0].(map[string]any)
	if got := strs(first["ErrorEquals"]); !slices.Equal(got, TimeoutErrors) || first["Next"] != StateFallBack {
		t.Errorf("first Catch = %v, want %v → %s", first, TimeoutErrors, StateFallBack)
	}
	last := catches[1].(map[string]any)
	if got := strs(last["ErrorEquals"]); !slices.Equal(got, []string{"States.ALL"}) || last["Next"] != StateTargetFailed {
		t.Errorf("last Catch = %v, want States.ALL → %s", last, StateTargetFailed)
	}
}

// TestFallbackPollsSameBuild: the fallback never calls the starter again; it asks the
// poller for the build by execution ARN and map index.
func TestFallbackPollsSameBuild(t *testing.T) {
	_, it := states(t, definition(t))
	fb := state(t, it, StateFallBack)
	if fb["Next"] != StatePollBuild {
		t.Errorf("fallback goes to %v, want %s", fb["Next"], StatePollBuild)
	}
	want := map[string]any{"executionArn.$": "$.executionArn", "mapIndex.$": "$.mapIndex"}
	if got := fb["Parameters"].(map[string]any); !equalJSON(got, want) || fb["ResultPath"] != "$.pollRequest" {
		t.Errorf("fallback request = %v at %v, want %v at $.pollRequest", got, fb["ResultPath"], want)
	}
	poll := state(t, it, StatePollBuild)
	p := poll["Parameters"].(map[string]any)
	if p["FunctionName"] != params().PollerARN || p["Payload.$"] != "$.pollRequest" {
		t.Errorf("poll parameters = %v", p)
	}
	// No state reachable from the fallback invokes the starter.
	for _, name := range reachable(it, StateFallBack) {
		if s := it[name].(map[string]any); s["Type"] == "Task" {
			if fn := s["Parameters"].(map[string]any)["FunctionName"]; fn == params().StarterARN {
				t.Errorf("state %q reachable from the fallback invokes the starter", name)
			}
		}
	}
}

func TestPollingBranch(t *testing.T) {
	_, it := states(t, definition(t))
	route := state(t, it, StateRouteTarget)
	var toPoll bool
	for _, c := range route["Choices"].([]any) {
		if c.(map[string]any)["Next"] == StateStartForPolling {
			toPoll = strings.Contains(mustJSON(t, c), `"StringEquals":"poll"`)
		}
	}
	if !toPoll || route["Default"] != StateStartAndWait {
		t.Errorf("route: completion poll → %s, default → %s expected; got %v", StateStartForPolling, StateStartAndWait, route)
	}
	start := state(t, it, StateStartForPolling)
	if start["Resource"] != LambdaInvoke || start["Next"] != StateWaitBeforePolling {
		t.Errorf("start for polling = %v", start)
	}
	if _, hasToken := start["Parameters"].(map[string]any)["Payload"].(map[string]any)["taskToken.$"]; hasToken {
		t.Error("the polling start must not pass a task token")
	}
	wait := state(t, it, StateWaitBeforePolling)
	if wait["SecondsPath"] != "$.settings.pollIntervalSeconds" || wait["Next"] != StatePollBuild {
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
	_, it := states(t, definition(t))
	never := []string{"InvalidTarget", "TargetNotAllowed", "StartBuildFailed", "AssumeRoleFailed", "States.ALL", "States.Timeout", "States.HeartbeatTimeout"}
	for _, name := range []string{StateStartAndWait, StateStartForPolling, StatePollBuild} {
		task := state(t, it, name)
		var retried []string
		for _, r := range task["Retry"].([]any) {
			rule := r.(map[string]any)
			retried = append(retried, strs(rule["ErrorEquals"])...)
			if rule["BackoffRate"].(float64) < 2 || rule["MaxAttempts"].(float64) < 3 {
				t.Errorf("%s: retry %v lacks backoff", name, rule)
			}
		}
		wantRetried := RetriedErrors
		if name == StatePollBuild {
			wantRetried = slices.DeleteFunc(slices.Clone(RetriedErrors), func(s string) bool { return s == "BuildQuotaExceeded" })
		}
		for _, e := range wantRetried {
			if !slices.Contains(retried, e) {
				t.Errorf("%s does not retry %s", name, e)
			}
		}
		for _, e := range never {
			if slices.Contains(retried, e) {
				t.Errorf("%s retries %s", name, e)
			}
		}
	}
}

// TestFailuresBecomeResults: every way a target can fail ends in a Pass that shapes a
// result with status FAILED and an error, never in a Fail state inside the Map.
func TestFailuresBecomeResults(t *testing.T) {
	_, it := states(t, definition(t))
	for name, raw := range it {
		s := raw.(map[string]any)
		if s["Type"] == "Fail" {
			t.Errorf("state %q fails the whole execution from inside the Map", name)
		}
		if s["Type"] == "Task" {
			catches := s["Catch"].([]any)
			last := catches[len(catches)-1].(map[string]any)
			if !slices.Equal(strs(last["ErrorEquals"]), []string{"States.ALL"}) {
				t.Errorf("task %q does not catch States.ALL last", name)
			}
		}
	}
	for _, name := range []string{StateTargetFailed, StateBuildFailed, StateInvalidWait, StateInvalidPoll, StateTargetNotObject} {
		s := state(t, it, name)
		p := s["Parameters"].(map[string]any)
		if s["Type"] != "Pass" || s["End"] != true || p["status"] != "FAILED" {
			t.Errorf("%s = %v, want a terminal Pass with status FAILED", name, s)
		}
		_, e1 := p["error"]
		_, e2 := p["error.$"]
		_, c1 := p["cause"]
		_, c2 := p["cause.$"]
		if !(e1 || e2) || !(c1 || c2) {
			t.Errorf("%s result lacks error or cause: %v", name, p)
		}
	}
}

func TestSummaryAndFailure(t *testing.T) {
	top, _ := states(t, definition(t))
	m := state(t, top, StateRunTargets)
	if m["MaxConcurrencyPath"] != "$.maxConcurrency" || m["ItemsPath"] != "$.crossAccountTargetRoleArns" || m["ResultPath"] != "$.results" {
		t.Errorf("map = %v", m)
	}
	sel := m["ItemSelector"].(map[string]any)
	if sel["target.$"] != "$$.Map.Item.Value" || sel["mapIndex.$"] != "$$.Map.Item.Index" || sel["executionArn.$"] != "$$.Execution.Id" {
		t.Errorf("ItemSelector = %v", sel)
	}
	check := state(t, top, StateCheckFailures)
	if check["Default"] != StateTargetsFailed {
		t.Errorf("failures beyond the tolerance must fail the execution: %v", check)
	}
	fail := state(t, top, StateTargetsFailed)
	if fail["Error"] != ErrTargetsFailed || !strings.Contains(fail["CausePath"].(string), "$.failedTargets") {
		t.Errorf("fail state = %v", fail)
	}
	if state(t, top, StateDone)["Type"] != "Succeed" {
		t.Error("Done must be a Succeed state")
	}
}

// TestPathsAlwaysResolve: every $.settings.X and top-level key read through a *Path
// field is defaulted before it is read, so a target or input without it still works.
func TestPathsAlwaysResolve(t *testing.T) {
	def := definition(t)
	top, it := states(t, def)
	defaults := top[StateRunTargets].(map[string]any)["ItemSelector"].(map[string]any)["defaults"].(map[string]any)
	iteration := mustJSON(t, it)
	for _, m := range regexp.MustCompile(`\$\.settings\.([A-Za-z]+)`).FindAllStringSubmatch(iteration, -1) {
		if _, ok := defaults[m[1]]; !ok {
			t.Errorf("$.settings.%s is read but has no default", m[1])
		}
	}
	topDefaults := state(t, top, StatePrepareInput)["Parameters"].(map[string]any)["defaults"].(map[string]any)
	for _, key := range []string{"maxConcurrency", "failureTolerance"} {
		if _, ok := topDefaults[key]; !ok {
			t.Errorf("top-level %s has no default", key)
		}
	}
	if got := defaults["heartbeatSeconds"].(float64); got != 3600 {
		t.Errorf("default heartbeat = %v", got)
	}
	if got := defaults["pollIntervalSeconds"].(float64); got != 20 {
		t.Errorf("default poll interval = %v", got)
	}
	if got := topDefaults["maxConcurrency"].(float64); got != 10 {
		t.Errorf("default max concurrency = %v", got)
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
		return 4 // MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
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

// TestHistoryArithmetic derives the history cost per target from the definition and checks
// docs/architecture.md states the same figures.
func TestHistoryArithmetic(t *testing.T) {
	def := definition(t)
	top, it := states(t, def)
	const iteration = 2 // MapIterationStarted, MapIterationSucceeded

	overhead := 2 + walk(t, top, StatePrepareInput, StateApplyDefaults, StateCheckInput, StateRunTargets,
		StateCollectResults, StateSummarise, StateCheckFailures, StateDone) // + ExecutionStarted/Succeeded
	event := iteration + walk(t, it, StateCheckTarget, StateApplyTargetDefs, StateRouteTarget, StateStartAndWait)
	pollFixed := iteration + walk(t, it, StateCheckTarget, StateApplyTargetDefs, StateRouteTarget, StateStartForPolling,
		StateWaitBeforePolling, StatePollBuild, StateBuildFinished, StateBuildSucceeded)
	cycle := eventsOf(state(t, it, StateWaitBeforePolling)) + eventsOf(state(t, it, StatePollBuild)) + eventsOf(state(t, it, StateBuildFinished))
	pollFixed -= cycle // the walk above contains one cycle

	if overhead != 20 || event != 14 || pollFixed != 15 || cycle != 9 {
		t.Fatalf("overhead %d, event mode %d per target, polling %d + %d per poll: update docs/architecture.md", overhead, event, pollFixed, cycle)
	}
	eventTargets := (25000 - overhead) / event
	tenMinutePoll := pollFixed + cycle*(600/20)
	pollTargets := (25000 - overhead) / tenMinutePoll

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatalf("read docs/architecture.md: %v", err)
	}
	for _, want := range []string{
		"20 + 14 × N", "15 + 9 × n",
		itoa(eventTargets) + " targets", itoa(tenMinutePoll) + " events", itoa(pollTargets) + " targets",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/architecture.md does not state %q", want)
		}
	}
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
