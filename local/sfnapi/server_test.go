package sfnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/asl"
	"github.com/crossbuild/crossbuild/local/localaws"
)

const roleArn = "arn:aws:iam::222222222222:role/crossbuild-states"

// env is a local Step Functions endpoint and an SDK client pointed at it.
type env struct {
	srv     *httptest.Server
	engine  *asl.Engine
	handler *Handler
	client  *sfn.Client
}

func newEnv(t *testing.T, invoker asl.TaskInvoker) *env {
	t.Helper()
	eng := asl.New(asl.Options{Invoker: invoker, TimeScale: 1000})
	h := New(eng, Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		eng.Close()
	})
	return &env{srv: srv, engine: eng, handler: h, client: newClient(srv, "eu-west-1", "222222222222")}
}

func newClient(srv *httptest.Server, region, accessKey string) *sfn.Client {
	return sfn.New(sfn.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, "local-secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   srv.Client(),
	})
}

func readDefinition(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (e *env) create(t *testing.T, name, definition string) string {
	t.Helper()
	out, err := e.client.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(definition), RoleArn: aws.String(roleArn),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

func (e *env) start(t *testing.T, machine, name, input string) string {
	t.Helper()
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(input)}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := e.client.StartExecution(context.Background(), in)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return aws.ToString(out.ExecutionArn)
}

// await polls DescribeExecution until the execution leaves RUNNING.
func (e *env) await(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still running", arn)
	return nil
}

// callbackStarter is a starter Lambda stand-in that completes each build
// through the API with the SDK client, as the callback function does: a
// heartbeat, then success.
func callbackStarter(t *testing.T, client func() *sfn.Client, wg *sync.WaitGroup) asl.LambdaFunctions {
	return asl.LambdaFunctions{"starter": func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Target struct {
				Project string `json:"codeBuildProject"`
			} `json:"target"`
			MapIndex  int    `json:"mapIndex"`
			TaskToken string `json:"taskToken"`
		}
		if err := json.Unmarshal(event, &in); err != nil {
			return nil, err
		}
		if in.Target.Project == "" {
			return nil, &InvalidTarget{Field: "codeBuildProject"}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client()
			bg := context.Background()
			if _, err := c.SendTaskHeartbeat(bg, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(in.TaskToken)}); err != nil {
				t.Errorf("heartbeat: %v", err)
				return
			}
			out, _ := json.Marshal(map[string]any{"project": in.Target.Project, "mapIndex": in.MapIndex, "status": "SUCCEEDED"})
			if _, err := c.SendTaskSuccess(bg, &sfn.SendTaskSuccessInput{TaskToken: aws.String(in.TaskToken), Output: aws.String(string(out))}); err != nil {
				t.Errorf("success: %v", err)
			}
		}()
		return json.RawMessage(`{"buildId":"` + in.Target.Project + `:1"}`), nil
	}}
}

// InvalidTarget is a typed handler error, reported by its type name.
type InvalidTarget struct{ Field string }

func (e *InvalidTarget) Error() string { return "field " + e.Field + " is required" }

func TestCallbackExecutionThroughTheSDK(t *testing.T) {
	var e *env
	var wg sync.WaitGroup
	e = newEnv(t, callbackStarter(t, func() *sfn.Client { return e.client }, &wg))
	defer wg.Wait()
	machine := e.create(t, "crossbuild", readDefinition(t, "callback.asl.json"))
	if want := "arn:aws:states:eu-west-1:222222222222:stateMachine:crossbuild"; machine != want {
		t.Fatalf("machine ARN %s, want %s", machine, want)
	}
	arn := e.start(t, machine, "run-1", `{"crossAccountTargetRoleArns": [
		{"codeBuildProject": "a"}, {"codeBuildProject": "b"}, {"codeBuildProject": "c"}]}`)
	if want := "arn:aws:states:eu-west-1:222222222222:execution:crossbuild:run-1"; arn != want {
		t.Fatalf("execution ARN %s, want %s", arn, want)
	}
	out := e.await(t, arn)
	if out.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s: %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0]["project"] != "a" || results[2]["project"] != "c" || results[2]["mapIndex"] != float64(2) {
		t.Fatalf("output %s", aws.ToString(out.Output))
	}
	if aws.ToString(out.Input) == "" || out.StartDate == nil || out.StopDate == nil || !out.StopDate.After(*out.StartDate) {
		t.Errorf("describe output %+v", out)
	}

	history := e.history(t, arn, false, 0)
	counts := map[types.HistoryEventType]int{}
	for _, ev := range history {
		counts[ev.Type]++
	}
	for typ, n := range map[types.HistoryEventType]int{
		types.HistoryEventTypeExecutionStarted: 1, types.HistoryEventTypeMapStateEntered: 1,
		types.HistoryEventTypeMapIterationStarted: 3, types.HistoryEventTypeTaskScheduled: 3,
		types.HistoryEventTypeTaskSubmitted: 3, types.HistoryEventTypeTaskSucceeded: 3,
		types.HistoryEventTypeMapIterationSucceeded: 3, types.HistoryEventTypeExecutionSucceeded: 1,
	} {
		if counts[typ] != n {
			t.Errorf("%d %s events, want %d", counts[typ], typ, n)
		}
	}
	first := history[0]
	if first.Id != 1 || first.ExecutionStartedEventDetails == nil || aws.ToString(first.ExecutionStartedEventDetails.RoleArn) != roleArn {
		t.Errorf("first event %+v", first)
	}
	for _, ev := range history {
		if ev.Type == types.HistoryEventTypeTaskScheduled {
			d := ev.TaskScheduledEventDetails
			if aws.ToString(d.ResourceType) != "lambda" || aws.ToString(d.Resource) != "invoke.waitForTaskToken" ||
				aws.ToInt64(d.HeartbeatInSeconds) != 3000 || aws.ToInt64(d.TimeoutInSeconds) != 3600 || !strings.Contains(aws.ToString(d.Parameters), "taskToken") {
				t.Errorf("TaskScheduled details %+v", d)
			}
		}
		if ev.Timestamp == nil || ev.Timestamp.Year() < 2000 {
			t.Errorf("event %d timestamp %v", ev.Id, ev.Timestamp)
		}
	}
}

// history reads the whole history page by page.
func (e *env) history(t *testing.T, arn string, reverse bool, pageSize int32) []types.HistoryEvent {
	t.Helper()
	var all []types.HistoryEvent
	var token *string
	for range 1000 {
		out, err := e.client.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{
			ExecutionArn: aws.String(arn), ReverseOrder: reverse, MaxResults: pageSize, NextToken: token,
		})
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		if pageSize > 0 && int32(len(out.Events)) > pageSize {
			t.Fatalf("page of %d events, asked for %d", len(out.Events), pageSize)
		}
		all = append(all, out.Events...)
		if out.NextToken == nil {
			return all
		}
		token = out.NextToken
	}
	t.Fatal("history never ended")
	return nil
}

func TestHistoryPaging(t *testing.T) {
	e := newEnv(t, nil)
	machine := e.create(t, "wait", readDefinition(t, "wait.asl.json"))
	arn := e.start(t, machine, "", `{"seconds": 5}`)
	if out := e.await(t, arn); out.Status != types.ExecutionStatusSucceeded || aws.ToString(out.Output) != `{"held":5,"note":"done"}` {
		t.Fatalf("got %s %s", out.Status, aws.ToString(out.Output))
	}
	all := e.history(t, arn, false, 0)
	if len(all) != 6 {
		t.Fatalf("%d events", len(all))
	}
	paged := e.history(t, arn, false, 2)
	reversed := e.history(t, arn, true, 4)
	for i := range all {
		if paged[i].Id != all[i].Id || reversed[len(all)-1-i].Id != all[i].Id {
			t.Fatalf("paging disagrees at %d: %d %d %d", i, all[i].Id, paged[i].Id, reversed[len(all)-1-i].Id)
		}
	}
	out, err := e.client.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Events[0].ExecutionStartedEventDetails; d == nil || d.Input != nil || d.RoleArn == nil {
		t.Errorf("includeExecutionData=false kept the input: %+v", d)
	}
	if _, err := e.client.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), NextToken: aws.String("bm90LWEtdG9rZW4"),
	}); !errorIs[*types.InvalidToken](err) {
		t.Errorf("foreign token: %v", err)
	}
}

func errorIs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func TestStartExecutionIdempotencyAndListing(t *testing.T) {
	e := newEnv(t, nil)
	machine := e.create(t, "hold", readDefinition(t, "wait.asl.json"))
	ctx := context.Background()

	long := e.start(t, machine, "same", `{"seconds": 100000}`)
	again := e.start(t, machine, "same", `{"seconds": 100000}`)
	if again != long {
		t.Fatalf("repeated start gave %s, want %s", again, long)
	}
	_, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("same"), Input: aws.String(`{"seconds": 1}`)})
	if !errorIs[*types.ExecutionAlreadyExists](err) {
		t.Fatalf("different input: %v", err)
	}
	var done []string
	for range 4 {
		done = append(done, e.start(t, machine, "", `{"seconds": 1}`))
	}
	for _, arn := range done {
		e.await(t, arn)
	}
	generated := strings.TrimPrefix(done[0], "arn:aws:states:eu-west-1:222222222222:execution:hold:")
	if len(generated) != 36 || strings.Count(generated, "-") != 4 {
		t.Errorf("generated name %q is not a UUID", generated)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(generated), Input: aws.String(`{"seconds": 1}`)})
	if !errorIs[*types.ExecutionAlreadyExists](err) {
		t.Fatalf("reusing the name of a closed execution: %v", err)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Input: aws.String(`{"seconds":`)})
	if !errorIs[*types.InvalidExecutionInput](err) {
		t.Fatalf("bad input: %v", err)
	}

	// Newest first, in pages of two.
	var listed []string
	var token *string
	for {
		out, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine), MaxResults: 2, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Executions) > 2 {
			t.Fatalf("page of %d", len(out.Executions))
		}
		for _, x := range out.Executions {
			listed = append(listed, aws.ToString(x.ExecutionArn))
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	want := []string{done[3], done[2], done[1], done[0], long}
	if strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Fatalf("listed\n %v\nwant\n %v", listed, want)
	}
	running, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine), StatusFilter: types.ExecutionStatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	if len(running.Executions) != 1 || aws.ToString(running.Executions[0].ExecutionArn) != long {
		t.Fatalf("running filter: %+v", running.Executions)
	}

	stop, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(long), Error: aws.String("Operator"), Cause: aws.String("no longer needed")})
	if err != nil || stop.StopDate == nil {
		t.Fatalf("stop: %v", err)
	}
	out := e.await(t, long)
	if out.Status != types.ExecutionStatusAborted || aws.ToString(out.Error) != "Operator" || aws.ToString(out.Cause) != "no longer needed" {
		t.Fatalf("after stop: %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	h := e.history(t, long, true, 1)
	if h[0].Type != types.HistoryEventTypeExecutionAborted || aws.ToString(h[0].ExecutionAbortedEventDetails.Error) != "Operator" {
		t.Fatalf("last event %+v", h[0])
	}
}

func TestStateMachineLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	def := readDefinition(t, "wait.asl.json")
	arn := e.create(t, "machine", def)
	if again := e.create(t, "machine", def); again != arn {
		t.Fatalf("identical create gave %s", again)
	}
	_, err := e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("machine"), Definition: aws.String(strings.Replace(def, "done", "changed", 1)), RoleArn: aws.String(roleArn),
	})
	if !errorIs[*types.StateMachineAlreadyExists](err) {
		t.Fatalf("conflicting create: %v", err)
	}
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("jsonata"), Definition: aws.String(`{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}`), RoleArn: aws.String(roleArn),
	})
	var invalid *types.InvalidDefinition
	if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "QueryLanguage") {
		t.Fatalf("JSONata definition: %v", err)
	}
	desc, err := e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.Definition) != def || aws.ToString(desc.Name) != "machine" || aws.ToString(desc.RoleArn) != roleArn ||
		desc.Type != types.StateMachineTypeStandard || desc.Status != types.StateMachineStatusActive || desc.CreationDate == nil {
		t.Fatalf("describe %+v", desc)
	}
	if _, err := e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn + "x")}); !errorIs[*types.StateMachineDoesNotExist](err) {
		t.Fatalf("missing machine: %v", err)
	}

	// Another account and Region see their own machines only.
	other := newClient(e.srv, "us-west-2", "333333333333")
	out, err := other.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("machine"), Definition: aws.String(def), RoleArn: aws.String(roleArn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.StateMachineArn); got != "arn:aws:states:us-west-2:333333333333:stateMachine:machine" {
		t.Fatalf("other account ARN %s", got)
	}
	list, err := other.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.StateMachines) != 1 || aws.ToString(list.StateMachines[0].StateMachineArn) != aws.ToString(out.StateMachineArn) {
		t.Fatalf("list %+v", list.StateMachines)
	}
	anonymous := newClient(e.srv, "eu-central-1", "AKIDEXAMPLE")
	out, err = anonymous.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("machine"), Definition: aws.String(def), RoleArn: aws.String(roleArn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.StateMachineArn); got != "arn:aws:states:eu-central-1:123456789012:stateMachine:machine" {
		t.Fatalf("default account ARN %s", got)
	}
}

func TestTaskTokensThroughTheSDK(t *testing.T) {
	tokens := make(chan string, 4)
	starter := asl.LambdaFunctions{"starter": func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		var in struct {
			Target struct {
				Project string `json:"codeBuildProject"`
			} `json:"target"`
			TaskToken string `json:"taskToken"`
		}
		if err := json.Unmarshal(event, &in); err != nil {
			return nil, err
		}
		if in.Target.Project == "" {
			return nil, &InvalidTarget{Field: "codeBuildProject"}
		}
		tokens <- in.TaskToken
		return json.RawMessage(`{}`), nil
	}}
	e := newEnv(t, starter)
	ctx := context.Background()
	machine := e.create(t, "tokens", readDefinition(t, "callback.asl.json"))

	arn := e.start(t, machine, "failing", `{"crossAccountTargetRoleArns": [{"codeBuildProject": "p"}]}`)
	token := <-tokens
	if _, err := e.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("CodeBuild.FAILED"), Cause: aws.String("phase BUILD")}); err != nil {
		t.Fatal(err)
	}
	out := e.await(t, arn)
	if out.Status != types.ExecutionStatusFailed || aws.ToString(out.Error) != "CodeBuild.FAILED" || aws.ToString(out.Cause) != "phase BUILD" {
		t.Fatalf("got %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)}); !errorIs[*types.TaskTimedOut](err) {
		t.Fatalf("success on a closed task: %v", err)
	}
	if _, err := e.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); !errorIs[*types.TaskTimedOut](err) {
		t.Fatalf("heartbeat on a closed task: %v", err)
	}
	unknown := token[:len(token)-8] + "AAAAAAAA"
	if _, err := e.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(unknown)}); !errorIs[*types.TaskDoesNotExist](err) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("x"), Output: aws.String(`{}`)}); !errorIs[*types.InvalidToken](err) {
		t.Fatalf("garbage token: %v", err)
	}

	arn = e.start(t, machine, "badoutput", `{"crossAccountTargetRoleArns": [{"codeBuildProject": "p"}]}`)
	token = <-tokens
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{nope`)}); !errorIs[*types.InvalidOutput](err) {
		t.Fatalf("bad output: %v", err)
	}
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"ok":true}`)}); err != nil {
		t.Fatal(err)
	}
	if out := e.await(t, arn); aws.ToString(out.Output) != `[{"ok":true}]` {
		t.Fatalf("output %s", aws.ToString(out.Output))
	}

	// A starter error is the task's failure, named after the Go type.
	arn = e.start(t, machine, "invalid", `{"crossAccountTargetRoleArns": [{}]}`)
	out = e.await(t, arn)
	if aws.ToString(out.Error) != "InvalidTarget" || aws.ToString(out.Cause) != `{"errorMessage":"field codeBuildProject is required","errorType":"InvalidTarget"}` {
		t.Fatalf("got %s %s", aws.ToString(out.Error), aws.ToString(out.Cause))
	}
}

// errorCase is one entry of testdata/errors.json: a raw request and the
// response it must get.
type errorCase struct {
	Name            string          `json:"name"`
	Target          string          `json:"target"`
	Body            json.RawMessage `json:"body"`
	RawBody         string          `json:"rawBody"`
	Status          int             `json:"status"`
	Type            string          `json:"type"`
	MessageContains string          `json:"messageContains"`
}

func TestProtocolErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/errors.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []errorCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			body := []byte(tc.RawBody)
			if tc.RawBody == "" {
				body = tc.Body
			}
			req, err := http.NewRequest(http.MethodPost, e.srv.URL, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", contentType)
			if tc.Target != "" {
				req.Header.Set("X-Amz-Target", tc.Target)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.Status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.Status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != contentType {
				t.Errorf("content type %q", ct)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("no request id")
			}
			if tc.Type == "" {
				return
			}
			var got map[string]string
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("error body %s: %v", raw, err)
			}
			if got["__type"] != tc.Type || got["message"] == "" || len(got) != 2 {
				t.Fatalf("error body %s, want __type %s and a message", raw, tc.Type)
			}
			if !strings.Contains(got["message"], tc.MessageContains) {
				t.Fatalf("message %q does not contain %q", got["message"], tc.MessageContains)
			}
		})
	}
}

func TestCallerOf(t *testing.T) {
	h := New(asl.New(asl.Options{}), Options{DefaultRegion: "ap-south-1", DefaultAccount: "999999999999"})
	for _, tc := range []struct{ auth, region, account string }{
		{"", "ap-south-1", "999999999999"},
		{"AWS4-HMAC-SHA256 Credential=111111111111/20260101/eu-west-1/states/aws4_request, SignedHeaders=host, Signature=abc", "eu-west-1", "111111111111"},
		{"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-2/states/aws4_request, SignedHeaders=host, Signature=abc", "us-east-2", "999999999999"},
		{"Basic dXNlcjpwYXNz", "ap-south-1", "999999999999"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		c := h.callerOf(r)
		if c.region != tc.region || c.account != tc.account {
			t.Errorf("%q: got %s %s, want %s %s", tc.auth, c.region, c.account, tc.region, tc.account)
		}
	}
	if got := stateMachineArn(caller{region: "cn-north-1", account: "111111111111"}, "m"); got != "arn:aws-cn:states:cn-north-1:111111111111:stateMachine:m" {
		t.Errorf("China ARN %s", got)
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"run-1": true, "Run_2.x": true, strings.Repeat("a", 80): true,
		"": false, strings.Repeat("a", 81): false, "a b": false, "a/b": false, "a:b": false, "a*": false, "a\x01": false, "a{b}": false,
	} {
		if validName(name) != want {
			t.Errorf("validName(%q) = %v", name, !want)
		}
	}
}

// Behind the router, the account comes from the caller's credentials.
func TestCallerFromRouter(t *testing.T) {
	h := New(asl.New(asl.Options{}), Options{})
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r = r.WithContext(localaws.WithCaller(r.Context(), localaws.Caller{
		Principal: localaws.Principal{Account: "111111111111"}, Region: "eu-west-1", Service: "states"}))
	if got := h.callerOf(r); got.account != "111111111111" || got.region != "eu-west-1" {
		t.Fatalf("caller = %+v", got)
	}
}
