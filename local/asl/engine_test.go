package asl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestEngine builds an engine on a fast clock.
func newTestEngine(t *testing.T, inv TaskInvoker) *Engine {
	t.Helper()
	eng := New(Options{Invoker: inv, TimeScale: 1000, Rand: func() float64 { return 0.5 }, NewUUID: counterUUID()})
	t.Cleanup(eng.Close)
	return eng
}

func mustParse(t *testing.T, def string) *Definition {
	t.Helper()
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return d
}

func startRun(t *testing.T, eng *Engine, def *Definition, name, input string) *Execution {
	t.Helper()
	x, err := eng.Start(StartInput{
		Definition: def, StateMachineArn: testStateMachineArn, Name: name,
		ExecutionArn: "arn:aws:states:us-east-1:123456789012:execution:fixture:" + name,
		Input:        input, RoleArn: testRoleArn,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return x
}

func waitEnd(t *testing.T, x *Execution) ExecutionInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("execution did not end: %v\n%s", err, historyText(x.History()))
	}
	return info
}

// tokenCatcher is an invoker that hands task tokens to the test.
type tokenCatcher struct {
	tokens chan string
	ctxs   chan context.Context
	block  bool // block until ctx is cancelled
}

func (c *tokenCatcher) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	if req.TaskToken != "" {
		c.tokens <- req.TaskToken
	}
	if c.block {
		c.ctxs <- ctx
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return json.RawMessage(`{"started":true}`), nil
}

const callbackDef = `{"StartAt": "T", "States": {"T": {"Type": "Task",
	"Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
	"Parameters": {"FunctionName": "starter", "Payload": {"token.$": "$$.Task.Token"}},
	"HeartbeatSeconds": 100000, "End": true}}}`

func TestTaskTokenErrors(t *testing.T) {
	inv := &tokenCatcher{tokens: make(chan string, 1)}
	eng := newTestEngine(t, inv)
	x := startRun(t, eng, mustParse(t, callbackDef), "tokens", `{}`)
	token := <-inv.tokens

	var invalid *InvalidTokenError
	if err := eng.SendTaskSuccess("not-a-token", `{}`); !errors.As(err, &invalid) {
		t.Errorf("garbage token: %v, want InvalidTokenError", err)
	}
	unknown := token[:len(token)-4] + "AAAA"
	if unknown == token {
		unknown = token[:len(token)-4] + "BBBB"
	}
	var missing *TaskDoesNotExistError
	if err := eng.SendTaskHeartbeat(unknown); !errors.As(err, &missing) {
		t.Errorf("unknown token: %v, want TaskDoesNotExistError", err)
	}
	var badOutput *InvalidOutputError
	if err := eng.SendTaskSuccess(token, `{not json`); !errors.As(err, &badOutput) {
		t.Errorf("bad output: %v, want InvalidOutputError", err)
	}
	if err := eng.SendTaskHeartbeat(token); err != nil {
		t.Errorf("heartbeat: %v", err)
	}
	if err := eng.SendTaskSuccess(token, `{"ok":1}`); err != nil {
		t.Fatalf("success: %v", err)
	}
	var closed *TaskTimedOutError
	if err := eng.SendTaskSuccess(token, `{"ok":2}`); !errors.As(err, &closed) {
		t.Errorf("second success: %v, want TaskTimedOutError", err)
	}
	if err := eng.SendTaskFailure(token, "E", "c"); !errors.As(err, &closed) {
		t.Errorf("failure after success: %v, want TaskTimedOutError", err)
	}
	info := waitEnd(t, x)
	if info.Status != StatusSucceeded || info.Output != `{"ok":1}` {
		t.Fatalf("got %s %s", info.Status, info.Output)
	}
	if err := eng.SendTaskHeartbeat(token); !errors.As(err, &closed) {
		t.Errorf("heartbeat after the end: %v, want TaskTimedOutError", err)
	}
}

func TestTokenAfterHeartbeatTimeout(t *testing.T) {
	inv := &tokenCatcher{tokens: make(chan string, 1)}
	eng := newTestEngine(t, inv)
	def := mustParse(t, strings.Replace(callbackDef, `"HeartbeatSeconds": 100000`, `"HeartbeatSeconds": 5`, 1))
	x := startRun(t, eng, def, "hb", `{}`)
	token := <-inv.tokens
	info := waitEnd(t, x)
	if info.Status != StatusFailed || info.Error != ErrorHeartbeatTimeout {
		t.Fatalf("got %s %s", info.Status, info.Error)
	}
	var closed *TaskTimedOutError
	if err := eng.SendTaskSuccess(token, `{}`); !errors.As(err, &closed) {
		t.Errorf("success after timeout: %v, want TaskTimedOutError", err)
	}
}

func TestStopExecutionAbortsCallbackTask(t *testing.T) {
	inv := &tokenCatcher{tokens: make(chan string, 1)}
	eng := newTestEngine(t, inv)
	x := startRun(t, eng, mustParse(t, callbackDef), "stop", `{}`)
	token := <-inv.tokens
	waitForEvent(t, x, "TaskSubmitted")

	if _, err := eng.StopExecution(x.Arn(), "Operator", "stopped by test"); err != nil {
		t.Fatal(err)
	}
	info := waitEnd(t, x)
	if info.Status != StatusAborted || info.Error != "Operator" || info.Cause != "stopped by test" {
		t.Fatalf("got %+v", info)
	}
	h := x.History()
	last := h[len(h)-1]
	if last.Type != "ExecutionAborted" || last.ExecutionAbortedEventDetails.Error != "Operator" {
		t.Fatalf("last event %+v", last)
	}
	var closed *TaskTimedOutError
	if err := eng.SendTaskSuccess(token, `{}`); !errors.As(err, &closed) {
		t.Errorf("success after stop: %v, want TaskTimedOutError", err)
	}
	// Nothing is recorded after the abort, even as branches unwind.
	time.Sleep(20 * time.Millisecond)
	if n := len(x.History()); n != len(h) {
		t.Errorf("history grew from %d to %d events after the abort", len(h), n)
	}
	// Stopping again changes nothing; an unknown ARN is an error.
	if _, err := eng.StopExecution(x.Arn(), "Again", ""); err != nil {
		t.Fatal(err)
	}
	if got := x.Describe(); got.Error != "Operator" {
		t.Errorf("second stop changed the error to %q", got.Error)
	}
	var notFound *ExecutionDoesNotExistError
	if _, err := eng.StopExecution("arn:aws:states:us-east-1:123456789012:execution:fixture:nope", "", ""); !errors.As(err, &notFound) {
		t.Errorf("unknown execution: %v", err)
	}
}

func TestStopExecutionCancelsRunningWork(t *testing.T) {
	inv := &tokenCatcher{ctxs: make(chan context.Context, 4), block: true}
	eng := newTestEngine(t, inv)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
		"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "slow"}, "End": true}}}, "End": true}}}`)
	x := startRun(t, eng, def, "cancel", `[1, 2, 3]`)
	var ctxs []context.Context
	for range 3 {
		ctxs = append(ctxs, <-inv.ctxs)
	}
	if _, err := eng.StopExecution(x.Arn(), "", ""); err != nil {
		t.Fatal(err)
	}
	for i, ctx := range ctxs {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("invocation %d was not cancelled", i)
		}
	}
	if info := waitEnd(t, x); info.Status != StatusAborted {
		t.Fatalf("status %s", info.Status)
	}
}

func TestStopDuringWait(t *testing.T) {
	eng := newTestEngine(t, nil)
	x := startRun(t, eng, mustParse(t, `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 99999, "End": true}}}`), "wait", ``)
	waitForEvent(t, x, "WaitStateEntered")
	start := time.Now()
	if _, err := eng.StopExecution(x.Arn(), "", ""); err != nil {
		t.Fatal(err)
	}
	info := waitEnd(t, x)
	if info.Status != StatusAborted || time.Since(start) > 2*time.Second {
		t.Fatalf("status %s after %v", info.Status, time.Since(start))
	}
	types := eventTypes(x.History())
	if types != "ExecutionStarted WaitStateEntered ExecutionAborted" {
		t.Fatalf("events %s", types)
	}
}

func waitForEvent(t *testing.T, x *Execution, typ string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range x.History() {
			if ev.Type == typ {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s event:\n%s", typ, historyText(x.History()))
}

func eventTypes(h []HistoryEvent) string {
	var parts []string
	for _, ev := range h {
		parts = append(parts, ev.Type)
	}
	return strings.Join(parts, " ")
}

func TestHistoryEventShape(t *testing.T) {
	inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
		return json.RawMessage(`{"buildId":"p:1"}`), nil
	})
	eng := newTestEngine(t, inv)
	def := mustParse(t, `{"StartAt": "Start", "States": {"Start": {"Type": "Task",
		"Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 30,
		"Parameters": {"FunctionName": "starter", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}}}`)
	x := startRun(t, eng, def, "shape", `{"a":1}`)
	if info := waitEnd(t, x); info.Status != StatusSucceeded {
		t.Fatalf("status %s", info.Status)
	}
	raw, err := json.Marshal(x.History())
	if err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	if err := json.Unmarshal(raw, &events); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ     string
		prev    float64
		details string
		fields  map[string]any
	}{
		{"ExecutionStarted", 0, "executionStartedEventDetails", map[string]any{"input": `{"a":1}`, "roleArn": testRoleArn, "inputDetails": map[string]any{"truncated": false}}},
		{"TaskStateEntered", 0, "stateEnteredEventDetails", map[string]any{"name": "Start", "input": `{"a":1}`}},
		{"TaskScheduled", 2, "taskScheduledEventDetails", map[string]any{"resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
			"parameters": `{"FunctionName":"starter","Payload":{"a":1}}`, "timeoutInSeconds": float64(30)}},
		{"TaskStarted", 3, "taskStartedEventDetails", map[string]any{"resourceType": "lambda", "resource": "invoke"}},
		{"TaskSucceeded", 4, "taskSucceededEventDetails", map[string]any{"resourceType": "lambda", "resource": "invoke"}},
		{"TaskStateExited", 5, "stateExitedEventDetails", map[string]any{"name": "Start", "output": `{"buildId":"p:1"}`}},
		{"ExecutionSucceeded", 6, "executionSucceededEventDetails", map[string]any{"output": `{"buildId":"p:1"}`}},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(events), len(want), raw)
	}
	var lastTS float64
	for i, w := range want {
		ev := events[i]
		if ev["type"] != w.typ || ev["id"] != float64(i+1) || ev["previousEventId"] != w.prev {
			t.Errorf("event %d: type %v id %v prev %v, want %s %d %v", i, ev["type"], ev["id"], ev["previousEventId"], w.typ, i+1, w.prev)
		}
		ts, ok := ev["timestamp"].(float64)
		if !ok || ts < lastTS || ts < 1e9 {
			t.Errorf("event %d: timestamp %v is not increasing epoch seconds", i, ev["timestamp"])
		}
		lastTS = ts
		details, ok := ev[w.details].(map[string]any)
		if !ok {
			t.Errorf("event %d: no %s in %v", i, w.details, ev)
			continue
		}
		for k, v := range w.fields {
			got, _ := json.Marshal(details[k])
			exp, _ := json.Marshal(v)
			if string(got) != string(exp) {
				t.Errorf("event %d %s.%s = %s, want %s", i, w.details, k, got, exp)
			}
		}
		if len(ev) != 5 {
			t.Errorf("event %d has fields %v, want only type, id, previousEventId, timestamp and %s", i, keysOf(ev), w.details)
		}
	}
	var envelope map[string]any
	out := events[4]["taskSucceededEventDetails"].(map[string]any)["output"].(string)
	if err := json.Unmarshal([]byte(out), &envelope); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"} {
		if _, ok := envelope[k]; !ok {
			t.Errorf("lambda:invoke output lacks %s: %s", k, out)
		}
	}
}

func keysOf(m map[string]any) []string { return sortedKeys(m) }

func TestExecutionInputErrors(t *testing.T) {
	eng := newTestEngine(t, nil)
	def := mustParse(t, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`)
	var bad *InvalidExecutionInputError
	for _, input := range []string{`{"a":`, `[1] [2]`, `"` + strings.Repeat("x", MaxPayloadBytes) + `"`} {
		_, err := eng.Start(StartInput{Definition: def, ExecutionArn: "arn:x:" + input[:3], Input: input})
		if !errors.As(err, &bad) {
			t.Errorf("input %.10q: %v, want InvalidExecutionInputError", input, err)
		}
	}
	x := startRun(t, eng, def, "dup", `{}`)
	waitEnd(t, x)
	var dup *ExecutionAlreadyExistsError
	if _, err := eng.Start(StartInput{Definition: def, ExecutionArn: x.Arn()}); !errors.As(err, &dup) {
		t.Errorf("second start: %v, want ExecutionAlreadyExistsError", err)
	}
}

func TestDataLimitExceeded(t *testing.T) {
	eng := newTestEngine(t, nil)
	def := mustParse(t, `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}}`)
	input := `{"s":"` + strings.Repeat("x", MaxPayloadBytes/2) + `"}`
	info := waitEnd(t, startRun(t, eng, def, "big", input))
	if info.Status != StatusFailed || info.Error != ErrorDataLimitExceeded {
		t.Fatalf("got %s %s %s", info.Status, info.Error, info.Cause)
	}

	// A task result over the limit is a catchable failure, but only by name.
	big := json.RawMessage(`"` + strings.Repeat("y", MaxPayloadBytes) + `"`)
	inv := TaskInvokerFunc(func(context.Context, TaskRequest) (json.RawMessage, error) { return big, nil })
	eng2 := newTestEngine(t, inv)
	def2 := mustParse(t, `{"StartAt": "T", "States": {
		"T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "Parameters": {},
			"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Wrong"}], "End": true},
		"Wrong": {"Type": "Succeed"}}}`)
	info = waitEnd(t, startRun(t, eng2, def2, "bigresult", `{}`))
	if info.Status != StatusFailed || info.Error != ErrorDataLimitExceeded {
		t.Fatalf("States.ALL caught it: %s %s", info.Status, info.Error)
	}
	def3 := mustParse(t, `{"StartAt": "T", "States": {
		"T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "Parameters": {},
			"Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": null, "Next": "Caught"}], "End": true},
		"Caught": {"Type": "Succeed"}}}`)
	info = waitEnd(t, startRun(t, eng2, def3, "bigresult2", `{}`))
	if info.Status != StatusSucceeded {
		t.Fatalf("not caught by name: %s %s", info.Status, info.Error)
	}
}

func TestHistoryLimitEndsEndlessLoops(t *testing.T) {
	eng := newTestEngine(t, nil)
	def := mustParse(t, `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}`)
	info := waitEnd(t, startRun(t, eng, def, "loop", `{}`))
	if info.Status != StatusFailed || info.Error != ErrorRuntime || !strings.Contains(info.Cause, "25000") {
		t.Fatalf("got %s %s %s", info.Status, info.Error, info.Cause)
	}
}

func TestTimeScaleKeepsLogicalDurations(t *testing.T) {
	eng := newTestEngine(t, nil)
	def := mustParse(t, `{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 120, "End": true}}}`)
	start := time.Now()
	x := startRun(t, eng, def, "scaled", `{}`)
	waitEnd(t, x)
	if real := time.Since(start); real > 2*time.Second {
		t.Errorf("a 120 s wait took %v at 1000x", real)
	}
	h := x.History()
	entered, exited := h[1].Timestamp.Time(), h[2].Timestamp.Time()
	if d := exited.Sub(entered); d < 120*time.Second || d > 600*time.Second {
		t.Errorf("wait lasted %v of clock time, want about 120 s", d)
	}
}

func TestExecutionTimeoutClosesTokens(t *testing.T) {
	inv := &tokenCatcher{tokens: make(chan string, 1)}
	eng := newTestEngine(t, inv)
	def := mustParse(t, strings.Replace(callbackDef, `{"StartAt"`, `{"TimeoutSeconds": 5, "StartAt"`, 1))
	x := startRun(t, eng, def, "exectimeout", `{}`)
	token := <-inv.tokens
	info := waitEnd(t, x)
	if info.Status != StatusTimedOut || info.Error != ErrorTimeout {
		t.Fatalf("got %s %s", info.Status, info.Error)
	}
	var closed *TaskTimedOutError
	if err := eng.SendTaskSuccess(token, `{}`); !errors.As(err, &closed) {
		t.Errorf("success after the execution timed out: %v", err)
	}
}

func TestFunctionErrorFrom(t *testing.T) {
	type InvalidTarget struct{ error }
	err := &InvalidTarget{errors.New("field region: must be a Region")}
	fe := FunctionErrorFrom(err)
	if fe.Type != "InvalidTarget" || fe.Message != "field region: must be a Region" {
		t.Fatalf("got %+v", fe)
	}
	if FunctionErrorFrom(nil) != nil {
		t.Fatal("nil error gave a FunctionError")
	}
	if got := FunctionErrorFrom(errors.New("x")).Type; got != "errorString" {
		t.Fatalf("errors.New type %q", got)
	}
}

func TestConcurrentExecutionsShareTheEngine(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
		mu.Lock()
		seen[req.ExecutionArn]++
		mu.Unlock()
		return req.Payload, nil
	})
	eng := newTestEngine(t, inv)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
		"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}}}, "End": true}}}`)
	var runs []*Execution
	for _, name := range []string{"c1", "c2", "c3", "c4"} {
		runs = append(runs, startRun(t, eng, def, name, `[1,2,3,4,5]`))
	}
	for _, x := range runs {
		if info := waitEnd(t, x); info.Status != StatusSucceeded || info.Output != `[1,2,3,4,5]` {
			t.Errorf("%s: %s %s", x.Arn(), info.Status, info.Output)
		}
		mu.Lock()
		n := seen[x.Arn()]
		mu.Unlock()
		if n != 5 {
			t.Errorf("%s: %d invocations", x.Arn(), n)
		}
	}
}
