package sfnapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/asl"
)

// startedBuild is one call of the starter: the child execution it ran in
// and its task token.
type startedBuild struct {
	MapIndex     int    `json:"mapIndex"`
	ExecutionArn string `json:"executionArn"` // the parent, from the ItemSelector
	TaskToken    string `json:"taskToken"`
	child        string
}

func tokenStarter(ch chan startedBuild) asl.TaskInvoker {
	return asl.TaskInvokerFunc(func(ctx context.Context, req asl.TaskRequest) (json.RawMessage, error) {
		var b startedBuild
		if err := json.Unmarshal(req.Payload, &b); err != nil {
			return nil, err
		}
		b.child = req.ExecutionArn
		ch <- b
		return json.RawMessage(`{}`), nil
	})
}

func nextBuild(t *testing.T, ch chan startedBuild) startedBuild {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no build started")
		return startedBuild{}
	}
}

// Child executions of a distributed Map are visible through the API as
// AWS shows them: ListMapRuns, DescribeMapRun, ListExecutions by Map Run,
// DescribeExecution and GetExecutionHistory of a child; their task tokens
// and StopExecution work on them.
func TestDistributedMapThroughTheSDK(t *testing.T) {
	builds := make(chan startedBuild, 8)
	e := newEnv(t, tokenStarter(builds))
	ctx := context.Background()
	machine := e.create(t, "crossbuild", readDefinition(t, "distributed.asl.json"))
	parent := e.start(t, machine, "run-1", `{"targets": [{"p": "a"}, {"p": "b"}, {"p": "c"}]}`)

	first, second := nextBuild(t, builds), nextBuild(t, builds)
	if first.MapIndex > second.MapIndex {
		// Two children start at once; their order of arrival is free.
		first, second = second, first
	}
	childPrefix := "arn:aws:states:eu-west-1:222222222222:execution:crossbuild/targets:"
	for _, b := range []startedBuild{first, second} {
		if b.ExecutionArn != parent || !strings.HasPrefix(b.child, childPrefix) {
			t.Fatalf("build %+v: the selector must see the parent, the task must run in a child", b)
		}
	}

	runs, err := e.client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(parent)})
	if err != nil || len(runs.MapRuns) != 1 {
		t.Fatalf("list map runs: %v %+v", err, runs)
	}
	run := runs.MapRuns[0]
	mapRunArn := aws.ToString(run.MapRunArn)
	if !strings.HasPrefix(mapRunArn, "arn:aws:states:eu-west-1:222222222222:mapRun:crossbuild/targets:") ||
		aws.ToString(run.StateMachineArn) != machine+"/targets" || aws.ToString(run.ExecutionArn) != parent || run.StopDate != nil {
		t.Errorf("map run %+v", run)
	}
	d, err := e.client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mapRunArn)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != types.MapRunStatusRunning || d.MaxConcurrency != 2 || d.ToleratedFailureCount != 1 || d.ToleratedFailurePercentage != 0 ||
		d.ItemCounts.Total != 3 || d.ItemCounts.Running != 2 || d.ItemCounts.Pending != 1 || d.ExecutionCounts.Running != 2 {
		t.Errorf("describe map run while running: %s %+v %+v", d.Status, d.ItemCounts, d)
	}

	// Children are listed by Map Run, not by state machine.
	children, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(mapRunArn)})
	if err != nil || len(children.Executions) != 2 {
		t.Fatalf("list children: %v %+v", err, children)
	}
	for _, c := range children.Executions {
		if aws.ToString(c.MapRunArn) != mapRunArn || aws.ToInt32(c.ItemCount) != 1 || aws.ToString(c.StateMachineArn) != machine+"/targets" {
			t.Errorf("child list item %+v", c)
		}
	}
	top, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machine)})
	if err != nil || len(top.Executions) != 1 || aws.ToString(top.Executions[0].ExecutionArn) != parent || top.Executions[0].MapRunArn != nil {
		t.Fatalf("list by state machine: %v %+v", err, top)
	}
	child, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(first.child)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(child.MapRunArn) != mapRunArn || aws.ToString(child.StateMachineArn) != machine+"/targets" ||
		child.Status != types.ExecutionStatusRunning || !strings.Contains(aws.ToString(child.Input), `"mapIndex":`) {
		t.Errorf("describe child %+v", child)
	}

	// The first build succeeds, the second fails (tolerated), the third
	// starts in the freed slot and succeeds.
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(first.TaskToken), Output: aws.String(`{"built":true}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(second.TaskToken), Error: aws.String("CodeBuild.FAILED"), Cause: aws.String("phase BUILD")}); err != nil {
		t.Fatal(err)
	}
	third := nextBuild(t, builds)
	if first.MapIndex != 0 || second.MapIndex != 1 || third.MapIndex != 2 {
		t.Fatalf("map indexes %d %d %d", first.MapIndex, second.MapIndex, third.MapIndex)
	}
	if _, err := e.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(third.TaskToken), Output: aws.String(`{"built":true}`)}); err != nil {
		t.Fatal(err)
	}
	out := e.await(t, parent)
	if out.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("parent %s %s %s", out.Status, aws.ToString(out.Error), aws.ToString(out.Cause))
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Output)), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0]["built"] != true || results[1]["Status"] != "FAILED" || results[1]["Error"] != "CodeBuild.FAILED" || results[2]["built"] != true {
		t.Errorf("output %s", aws.ToString(out.Output))
	}
	d, err = e.client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(mapRunArn)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != types.MapRunStatusSucceeded || d.StopDate == nil || d.ItemCounts.Succeeded != 2 || d.ItemCounts.Failed != 1 || d.ItemCounts.Total != 3 {
		t.Errorf("describe map run after: %s %+v", d.Status, d.ItemCounts)
	}

	// The parent's history has the Map Run, not the iterations.
	counts := map[types.HistoryEventType]int{}
	for _, ev := range e.history(t, parent, false, 0) {
		counts[ev.Type]++
		if ev.Type == types.HistoryEventTypeMapRunStarted && aws.ToString(ev.MapRunStartedEventDetails.MapRunArn) != mapRunArn {
			t.Errorf("MapRunStarted %+v", ev.MapRunStartedEventDetails)
		}
	}
	if counts[types.HistoryEventTypeMapRunStarted] != 1 || counts[types.HistoryEventTypeMapRunSucceeded] != 1 ||
		counts[types.HistoryEventTypeMapIterationStarted] != 0 || counts[types.HistoryEventTypeTaskScheduled] != 0 {
		t.Errorf("parent history %v", counts)
	}
	var childTypes []string
	for _, ev := range e.history(t, second.child, false, 2) {
		childTypes = append(childTypes, string(ev.Type))
	}
	if got := strings.Join(childTypes, " "); got != "ExecutionStarted TaskStateEntered TaskScheduled TaskStarted TaskSubmitted TaskFailed ExecutionFailed" {
		t.Errorf("child history %s", got)
	}

	// A child can be stopped; its Map Run counts it as a failed item.
	other := e.start(t, machine, "run-2", `{"targets": [{"p": "d"}]}`)
	lone := nextBuild(t, builds)
	if _, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(lone.child), Error: aws.String("Operator")}); err != nil {
		t.Fatal(err)
	}
	out = e.await(t, other)
	if out.Status != types.ExecutionStatusSucceeded || !strings.Contains(aws.ToString(out.Output), `"Status":"ABORTED"`) {
		t.Fatalf("after stopping the child: %s %s", out.Status, aws.ToString(out.Output))
	}
}

func TestMapRunErrors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	machine := e.create(t, "plain", readDefinition(t, "wait.asl.json"))
	unknown := "arn:aws:states:eu-west-1:222222222222:mapRun:plain/label:00000000-0000-4000-8000-000000000000"
	if _, err := e.client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(unknown)}); !errorIs[*types.ResourceNotFound](err) {
		t.Errorf("unknown map run: %v", err)
	}
	if _, err := e.client.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(machine)}); !errorIs[*types.InvalidArn](err) {
		t.Errorf("state machine ARN as a map run: %v", err)
	}
	if _, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(unknown)}); !errorIs[*types.ResourceNotFound](err) {
		t.Errorf("children of an unknown map run: %v", err)
	}
	if _, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{MapRunArn: aws.String(unknown), StateMachineArn: aws.String(machine)}); !errorIs[*types.ValidationException](err) {
		t.Errorf("both ARNs: %v", err)
	}
	if _, err := e.client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String("arn:aws:states:eu-west-1:222222222222:execution:plain:nope")}); !errorIs[*types.ExecutionDoesNotExist](err) {
		t.Errorf("map runs of an unknown execution: %v", err)
	}
	arn := e.start(t, machine, "", `{"seconds": 1}`)
	e.await(t, arn)
	runs, err := e.client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil || len(runs.MapRuns) != 0 {
		t.Errorf("map runs of an execution without one: %v %+v", err, runs)
	}
	desc, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil || desc.MapRunArn != nil {
		t.Errorf("a top-level execution has no map run: %v %+v", err, desc)
	}
}
