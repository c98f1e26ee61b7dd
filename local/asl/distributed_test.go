package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memObjects is an in-memory ObjectStore. The bucket "denied" refuses
// every call, as S3 does for a role without access.
type memObjects struct {
	mu      sync.Mutex
	objects map[string][]byte
	written []string // keys put, in order
	roles   map[string]bool
}

func newMemObjects(initial map[string]string) *memObjects {
	m := &memObjects{objects: map[string][]byte{}, roles: map[string]bool{}}
	for k, v := range initial {
		m.objects[k] = []byte(v)
	}
	return m
}

func (m *memObjects) GetObject(_ context.Context, roleArn, bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roles[roleArn] = true
	if bucket == "denied" {
		return nil, fmt.Errorf("AccessDenied: %s may not read s3://%s/%s", roleArn, bucket, key)
	}
	data, ok := m.objects[bucket+"/"+key]
	if !ok {
		return nil, fmt.Errorf("NoSuchKey: The specified key does not exist: s3://%s/%s", bucket, key)
	}
	return data, nil
}

func (m *memObjects) PutObject(_ context.Context, roleArn, bucket, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roles[roleArn] = true
	if bucket == "denied" {
		return fmt.Errorf("AccessDenied: %s may not write s3://%s/%s", roleArn, bucket, key)
	}
	m.objects[bucket+"/"+key] = append([]byte(nil), body...)
	m.written = append(m.written, bucket+"/"+key)
	return nil
}

func (m *memObjects) get(t *testing.T, path string) []byte {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.objects[path]
	if !ok {
		t.Fatalf("no object %s; written: %v", path, m.written)
	}
	return data
}

// checkWritten holds the written objects to want: the same keys, and
// contents matching as JSON.
func checkWritten(t *testing.T, m *memObjects, want map[string]json.RawMessage) {
	t.Helper()
	m.mu.Lock()
	written := append([]string(nil), m.written...)
	m.mu.Unlock()
	var wantKeys []string
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	sort.Strings(wantKeys)
	sort.Strings(written)
	if strings.Join(written, " ") != strings.Join(wantKeys, " ") {
		t.Errorf("written objects\n got  %v\n want %v", written, wantKeys)
	}
	for _, k := range wantKeys {
		m.mu.Lock()
		data, ok := m.objects[k]
		m.mu.Unlock()
		if ok {
			checkJSON(t, "object "+k, string(data), want[k])
		}
	}
}

const distributedPass = `{"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
	"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func onlyMapRun(t *testing.T, x *Execution) *MapRun {
	t.Helper()
	var runs []*MapRun
	waitFor(t, "a map run", func() bool { runs = x.MapRuns(); return len(runs) > 0 })
	if len(runs) != 1 {
		t.Fatalf("%d map runs, want 1", len(runs))
	}
	return runs[0]
}

// A large fan-out of trivial children is fast and leaves the parent's
// history at a handful of events; each child has its own short history.
func TestDistributedMapTenThousandItems(t *testing.T) {
	const n = 10000
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"i":%d}`, i)
	}
	objects := newMemObjects(map[string]string{"b/items.json": "[" + strings.Join(items, ",") + "]"})
	eng := New(Options{TimeScale: 1000, Objects: objects})
	t.Cleanup(eng.Close)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "targets",
		"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
			"Parameters": {"Bucket": "b", "Key": "items.json"}},
		"ItemSelector": {"index.$": "$$.Map.Item.Index"},
		"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "results"}},
		"ItemProcessor": `+distributedPass+`, "End": true}}}`)
	start := time.Now()
	x := startRun(t, eng, def, "big", `{}`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := x.Wait(ctx)
	if err != nil || info.Status != StatusSucceeded {
		t.Fatalf("status %s %s %s (%v)", info.Status, info.Error, info.Cause, err)
	}
	elapsed := time.Since(start)
	t.Logf("%d children in %s", n, elapsed)
	if elapsed > 30*time.Second {
		t.Errorf("%d trivial children took %s", n, elapsed)
	}
	if h := x.History(); len(h) != 8 {
		t.Errorf("parent history has %d events, want 8:\n%s", len(h), historyText(h))
	}
	run := onlyMapRun(t, x)
	d := run.Describe()
	want := MapRunCounts{Succeeded: n, Total: n, ResultsWritten: n}
	if d.Status != MapRunSucceeded || d.ItemCounts != want || d.ExecutionCounts != want {
		t.Errorf("map run %+v", d)
	}
	children := run.Executions()
	if len(children) != n {
		t.Fatalf("%d children", len(children))
	}
	for _, i := range []int{0, n / 2, n - 1} {
		c := children[i]
		if got := eventTypes(c.History()); got != "ExecutionStarted PassStateEntered PassStateExited ExecutionSucceeded" {
			t.Errorf("child %d history %s", i, got)
		}
		if ci := c.Describe(); ci.Input != fmt.Sprintf(`{"index":%d}`, i) || ci.MapRunArn != run.Arn() {
			t.Errorf("child %d: %+v", i, ci)
		}
	}
	var manifest struct {
		ResultFiles map[string][]struct {
			Key  string
			Size int
		}
	}
	if err := json.Unmarshal(objects.get(t, "out/"+manifestKey(t, info.Output)), &manifest); err != nil {
		t.Fatal(err)
	}
	if files := manifest.ResultFiles["SUCCEEDED"]; len(files) != 1 {
		t.Fatalf("manifest %+v", manifest)
	}
	var entries []map[string]any
	if err := json.Unmarshal(objects.get(t, "out/"+manifest.ResultFiles["SUCCEEDED"][0].Key), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != n || entries[n-1]["Output"] != fmt.Sprintf(`{"index":%d}`, n-1) {
		t.Errorf("%d entries, last %v", len(entries), entries[len(entries)-1])
	}
}

// manifestKey reads ResultWriterDetails.Key from a Map state's output.
func manifestKey(t *testing.T, output string) string {
	t.Helper()
	var out struct {
		ResultWriterDetails struct{ Bucket, Key string }
	}
	if err := json.Unmarshal([]byte(output), &out); err != nil || out.ResultWriterDetails.Key == "" {
		t.Fatalf("output %s has no ResultWriterDetails.Key (%v)", output, err)
	}
	return out.ResultWriterDetails.Key
}

func TestDistributedMapConcurrencyIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field string
		input string
		want  int64
	}{
		{"MaxConcurrency", `"MaxConcurrency": 3`, `{"max": 0}`, 3},
		{"MaxConcurrencyPath", `"MaxConcurrencyPath": "$.max"`, `{"max": 1}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inFlight, maxSeen atomic.Int64
			inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
				}
				time.Sleep(20 * time.Millisecond)
				return req.Payload, nil
			})
			eng := newTestEngine(t, inv)
			def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map", `+tc.field+`, "ItemsPath": "$.items",
				"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "T", "States": {
					"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"},
						"OutputPath": "$.Payload", "End": true}}}, "End": true}}}`)
			var items []string
			for i := range 24 {
				items = append(items, fmt.Sprint(i))
			}
			list := "[" + strings.Join(items, ",") + "]"
			x := startRun(t, eng, def, "bounded", strings.Replace(tc.input, "}", `, "items": `+list+`}`, 1))
			info := waitEnd(t, x)
			if info.Status != StatusSucceeded || info.Output != list {
				t.Fatalf("got %s %s %s", info.Status, info.Output, info.Cause)
			}
			if got := maxSeen.Load(); got != tc.want {
				t.Errorf("at most %d children ran at once, want %d", got, tc.want)
			}
			if d := onlyMapRun(t, x).Describe(); d.MaxConcurrency != tc.want {
				t.Errorf("DescribeMapRun maxConcurrency %d, want %d", d.MaxConcurrency, tc.want)
			}
		})
	}
}

// callbackTokens is an invoker whose .waitForTaskToken tasks hand their
// token and execution to the test.
type callbackTokens struct {
	ch chan TaskRequest
}

func (c *callbackTokens) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	if req.TaskToken != "" {
		c.ch <- req
	}
	return json.RawMessage(`{}`), nil
}

// next returns the next callback task, failing the test after a while.
func (c *callbackTokens) next(t *testing.T) TaskRequest {
	t.Helper()
	select {
	case req := <-c.ch:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no callback task started")
		return TaskRequest{}
	}
}

const callbackChildren = `{"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "builds", "ItemsPath": "$.items", "MaxConcurrency": 3,
	"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Route", "States": {
		"Route": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.fail", "IsPresent": true},
			{"Variable": "$.fail", "BooleanEquals": true}], "Next": "Failed"}], "Default": "Build"},
		"Failed": {"Type": "Fail", "Error": "BuildRefused", "Cause": "refused"},
		"Build": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters": {"FunctionName": "starter", "Payload": {"token.$": "$$.Task.Token", "item.$": "$"}}, "End": true}}},
	%s "End": true}}}`

// A child's task token belongs to the child: SendTaskSuccess completes it
// and the child's own history records the callback.
func TestDistributedMapCallbackInChild(t *testing.T) {
	inv := &callbackTokens{ch: make(chan TaskRequest, 8)}
	eng := newTestEngine(t, inv)
	x := startRun(t, eng, mustParse(t, fmt.Sprintf(callbackChildren, "")), "callbacks", `{"items": [{"n": 0}, {"n": 1}]}`)
	prefix := "arn:aws:states:us-east-1:123456789012:execution:fixture/builds:"
	for range 2 {
		req := inv.next(t)
		if !strings.HasPrefix(req.ExecutionArn, prefix) || req.StateMachineArn != testStateMachineArn+"/builds" {
			t.Errorf("task of %s (machine %s), want a child execution", req.ExecutionArn, req.StateMachineArn)
		}
		var payload struct{ Item struct{ N int } }
		if err := json.Unmarshal(req.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		if err := eng.SendTaskSuccess(req.TaskToken, fmt.Sprintf(`{"built":%d}`, payload.Item.N)); err != nil {
			t.Fatal(err)
		}
		var closed *TaskTimedOutError
		if err := eng.SendTaskSuccess(req.TaskToken, `{}`); !errors.As(err, &closed) {
			t.Errorf("second success: %v, want TaskTimedOutError", err)
		}
		child, ok := eng.Execution(req.ExecutionArn)
		if !ok {
			t.Fatalf("no execution %s", req.ExecutionArn)
		}
		waitFor(t, "the child to end", func() bool { return child.Describe().Status != StatusRunning })
		want := "ExecutionStarted ChoiceStateEntered ChoiceStateExited TaskStateEntered TaskScheduled TaskStarted TaskSubmitted TaskSucceeded TaskStateExited ExecutionSucceeded"
		if got := eventTypes(child.History()); got != want {
			t.Errorf("child history\n got  %s\n want %s", got, want)
		}
	}
	info := waitEnd(t, x)
	if info.Status != StatusSucceeded || info.Output != `[{"built":0},{"built":1}]` {
		t.Fatalf("got %s %s %s", info.Status, info.Output, info.Cause)
	}
}

// Stopping the parent aborts its running children and closes their tokens.
func TestDistributedMapStopAbortsChildren(t *testing.T) {
	inv := &callbackTokens{ch: make(chan TaskRequest, 8)}
	eng := newTestEngine(t, inv)
	x := startRun(t, eng, mustParse(t, fmt.Sprintf(callbackChildren, "")), "stopped", `{"items": [{}, {}, {}, {}, {}]}`)
	var reqs []TaskRequest
	for range 3 {
		reqs = append(reqs, inv.next(t))
	}
	if _, err := eng.StopExecution(x.Arn(), "Operator", "enough"); err != nil {
		t.Fatal(err)
	}
	if info := waitEnd(t, x); info.Status != StatusAborted {
		t.Fatalf("parent %s", info.Status)
	}
	run := onlyMapRun(t, x)
	waitFor(t, "the map run to end", func() bool { return run.Describe().Status != MapRunRunning })
	if d := run.Describe(); d.Status != MapRunAborted || d.ItemCounts.Aborted != 3 || d.ItemCounts.Pending != 2 || d.StopDate.IsZero() {
		t.Errorf("map run %+v", d)
	}
	for _, req := range reqs {
		child, _ := eng.Execution(req.ExecutionArn)
		waitFor(t, "the child to end", func() bool { return child.Describe().Status != StatusRunning })
		h := child.History()
		if info := child.Describe(); info.Status != StatusAborted || h[len(h)-1].Type != "ExecutionAborted" {
			t.Errorf("child %s: %s, last event %s", req.ExecutionArn, info.Status, h[len(h)-1].Type)
		}
		var closed *TaskTimedOutError
		if err := eng.SendTaskSuccess(req.TaskToken, `{}`); !errors.As(err, &closed) {
			t.Errorf("success for an aborted child: %v, want TaskTimedOutError", err)
		}
	}
	if got := eventTypes(x.History()); got != "ExecutionStarted MapStateEntered MapStateStarted MapRunStarted ExecutionAborted" {
		t.Errorf("parent history %s", got)
	}
}

// Once the failures exceed the tolerance, the running children are
// aborted, no more start, and the results of all items are still written.
func TestDistributedMapToleranceExceededAbortsAndWrites(t *testing.T) {
	inv := &callbackTokens{ch: make(chan TaskRequest, 8)}
	objects := newMemObjects(nil)
	eng := New(Options{Invoker: inv, TimeScale: 1000, NewUUID: counterUUID(), Objects: objects})
	t.Cleanup(eng.Close)
	writer := `"ItemSelector": {"fail.$": "$$.Map.Item.Value.fail", "index.$": "$$.Map.Item.Index"},
		"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "res/"}},`
	items := `[{"fail": false}, {"fail": false}, {"fail": true}` + strings.Repeat(`, {"fail": false}`, 7) + `]`
	x := startRun(t, eng, mustParse(t, fmt.Sprintf(callbackChildren, writer)), "exceeded", `{"items": `+items+`}`)
	info := waitEnd(t, x)
	if info.Status != StatusFailed || info.Error != ErrorExceedToleratedFailureThreshold || info.Cause != causeExceedToleratedFailureThreshold {
		t.Fatalf("got %s %s %s", info.Status, info.Error, info.Cause)
	}
	run := onlyMapRun(t, x)
	want := MapRunCounts{Pending: 7, Failed: 1, Aborted: 2, Total: 10, ResultsWritten: 3}
	if d := run.Describe(); d.Status != MapRunFailed || d.ItemCounts != want {
		t.Errorf("map run %s %+v, want %+v", d.Status, d.ItemCounts, want)
	}
	base := "out/res/00000000-0000-4000-8000-000000000001/"
	var manifest map[string]any
	if err := json.Unmarshal(objects.get(t, base+"manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	files := manifest["ResultFiles"].(map[string]any)
	if len(files["SUCCEEDED"].([]any)) != 0 || len(files["FAILED"].([]any)) != 1 || len(files["PENDING"].([]any)) != 1 {
		t.Fatalf("manifest %v", manifest)
	}
	var failed, pending []map[string]any
	if err := json.Unmarshal(objects.get(t, base+"FAILED_0.json"), &failed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(objects.get(t, base+"PENDING_0.json"), &pending); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, e := range failed {
		statuses = append(statuses, e["Status"].(string))
		if _, ok := e["Output"]; ok {
			t.Errorf("failed entry with an Output: %v", e)
		}
	}
	if strings.Join(statuses, " ") != "ABORTED ABORTED FAILED" || failed[2]["Error"] != "BuildRefused" || failed[2]["Cause"] != "refused" {
		t.Errorf("failed entries %v", failed)
	}
	if len(pending) != 7 || pending[0]["Input"] != `{"fail":false,"index":3}` || pending[0]["Status"] != "PENDING" {
		t.Errorf("pending entries %v", pending)
	}
	// The failing child may end before the other two reach their task (the Choice fails it at
	// once), so only the tokens that were handed out are checked: each must be closed.
	for drained := false; !drained; {
		select {
		case req := <-inv.ch:
			var closed *TaskTimedOutError
			if err := eng.SendTaskSuccess(req.TaskToken, `{}`); !errors.As(err, &closed) {
				t.Errorf("success for an aborted child: %v", err)
			}
		default:
			drained = true
		}
	}
}

// A child input over the payload quota fails its item, not the parent.
func TestDistributedMapChildInputTooLarge(t *testing.T) {
	eng := newTestEngine(t, nil)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ToleratedFailureCount": 1,
		"ItemSelector": {"a.$": "$.big", "b.$": "$.big", "i.$": "$$.Map.Item.Value"},
		"ItemProcessor": `+distributedPass+`, "OutputPath": "$[*].Error", "End": true}}}`)
	big := strings.Repeat("x", MaxPayloadBytes/2)
	x := startRun(t, eng, def, "large", `{"items": [1], "big": "`+big+`"}`)
	info := waitEnd(t, x)
	if info.Status != StatusSucceeded || info.Output != `["States.DataLimitExceeded"]` {
		t.Fatalf("got %s %.200s %s", info.Status, info.Output, info.Cause)
	}
	child := onlyMapRun(t, x).Executions()[0]
	h := child.History()
	if eventTypes(h) != "ExecutionStarted ExecutionFailed" || !h[0].ExecutionStartedEventDetails.InputDetails.Truncated {
		t.Errorf("child history %s", historyText(h))
	}
}

// Result files are split at the size limit; the manifest lists each with
// its size, and the entries keep the item order.
func TestDistributedMapResultFilesSplit(t *testing.T) {
	objects := newMemObjects(nil)
	eng := New(Options{TimeScale: 1000, NewUUID: counterUUID(), Objects: objects})
	eng.resultFileMaxBytes = 2000
	t.Cleanup(eng.Close)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map",
		"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out"}},
		"ItemProcessor": `+distributedPass+`, "End": true}}}`)
	x := startRun(t, eng, def, "split", `[0,1,2,3,4,5,6,7,8,9]`)
	info := waitEnd(t, x)
	if info.Status != StatusSucceeded {
		t.Fatalf("got %s %s", info.Status, info.Cause)
	}
	key := manifestKey(t, info.Output)
	if key != "00000000-0000-4000-8000-000000000001/manifest.json" {
		t.Errorf("manifest key %s", key)
	}
	var manifest struct {
		ResultFiles map[string][]struct {
			Key  string
			Size int
		}
	}
	if err := json.Unmarshal(objects.get(t, "out/"+key), &manifest); err != nil {
		t.Fatal(err)
	}
	files := manifest.ResultFiles["SUCCEEDED"]
	if len(files) < 3 {
		t.Fatalf("%d files for 10 entries of ~600 bytes at 2000 bytes a file", len(files))
	}
	var outputs []string
	for i, f := range files {
		data := objects.get(t, "out/"+f.Key)
		if f.Key != fmt.Sprintf("00000000-0000-4000-8000-000000000001/SUCCEEDED_%d.json", i) || f.Size != len(data) || len(data) > 2000 {
			t.Errorf("file %d: %s size %d (%d bytes)", i, f.Key, f.Size, len(data))
		}
		var entries []map[string]any
		if err := json.Unmarshal(data, &entries); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			outputs = append(outputs, e["Output"].(string))
		}
	}
	if strings.Join(outputs, ",") != "0,1,2,3,4,5,6,7,8,9" {
		t.Errorf("outputs in files %v", outputs)
	}
}

// The parent's history has the shape the service records: MapStateStarted
// (length 0 when an ItemReader supplies the items), MapRunStarted with the
// Map Run ARN, and MapStateSucceeded and MapStateExited both following
// MapRunSucceeded.
func TestDistributedMapHistoryDetails(t *testing.T) {
	objects := newMemObjects(map[string]string{"b/k": `[1, 2]`})
	eng := New(Options{TimeScale: 1000, NewUUID: counterUUID(), Objects: objects})
	t.Cleanup(eng.Close)
	def := mustParse(t, `{"StartAt": "M", "States": {"M": {"Type": "Map",
		"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"}, "Parameters": {"Bucket": "b", "Key": "k"}},
		"ItemProcessor": `+distributedPass+`, "End": true}}}`)
	x := startRun(t, eng, def, "shape", `{}`)
	if info := waitEnd(t, x); info.Status != StatusSucceeded || info.Output != `[1,2]` {
		t.Fatalf("got %s %s", info.Status, info.Output)
	}
	h := x.History()
	if got := eventTypes(h); got != "ExecutionStarted MapStateEntered MapStateStarted MapRunStarted MapRunSucceeded MapStateSucceeded MapStateExited ExecutionSucceeded" {
		t.Fatalf("history %s", got)
	}
	if h[2].MapStateStartedEventDetails == nil || h[2].MapStateStartedEventDetails.Length != 0 {
		t.Errorf("MapStateStarted %+v", h[2].MapStateStartedEventDetails)
	}
	// Without a Label the label is a UUID of its own.
	wantRun := "arn:aws:states:us-east-1:123456789012:mapRun:fixture/00000000-0000-4000-8000-000000000002:00000000-0000-4000-8000-000000000001"
	if d := h[3].MapRunStartedEventDetails; d == nil || d.MapRunArn != wantRun {
		t.Errorf("MapRunStarted %+v, want %s", d, wantRun)
	}
	if h[5].PreviousEventID != h[4].ID || h[6].PreviousEventID != h[4].ID {
		t.Errorf("MapStateSucceeded and MapStateExited follow %d and %d, want %d", h[5].PreviousEventID, h[6].PreviousEventID, h[4].ID)
	}
	run, ok := eng.MapRun(wantRun)
	if !ok || run.ExecutionArn() != x.Arn() || run.StateMachineArn() != testStateMachineArn+"/00000000-0000-4000-8000-000000000002" {
		t.Fatalf("map run %v %+v", ok, run)
	}
	child := run.Executions()[1]
	info := child.Describe()
	if info.ExecutionArn != "arn:aws:states:us-east-1:123456789012:execution:fixture/00000000-0000-4000-8000-000000000002:00000000-0000-4000-8000-000000000004" ||
		info.Name != "00000000-0000-4000-8000-000000000004" || info.StateMachineArn != run.StateMachineArn() || info.MapRunArn != wantRun || child.MapRun() != run {
		t.Errorf("child %+v", info)
	}
	if first := child.History()[0].ExecutionStartedEventDetails; first.Input != "2" || first.RoleArn != testRoleArn {
		t.Errorf("child ExecutionStarted %+v", first)
	}
	objects.mu.Lock()
	roles := objects.roles
	objects.mu.Unlock()
	if !roles[testRoleArn] || len(roles) != 1 {
		t.Errorf("objects read as %v, want the execution's role", roles)
	}
}
