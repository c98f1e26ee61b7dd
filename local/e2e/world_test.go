package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/local/cfn"
	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/demo"
	"github.com/crossbuild/crossbuild/local/world"
)

// The source account and Region of the synthesized app, and its state machine.
const (
	sourceAccount = "111111111111"
	sourceRegion  = "eu-west-1"
	stateMachine  = "crossbuild"
)

// Bounds of every wait.
const (
	startTimeout     = 90 * time.Second // world.Start: dynalite and nine emulators
	executionTimeout = 60 * time.Second // one scenario's execution
	settleTimeout    = 20 * time.Second // late events, builds winding down
	pollEvery        = 50 * time.Millisecond
)

// testWorld is a started world with the clients and names the scenarios use.
type testWorld struct {
	*world.World
	logDir        string
	sfn           *sfn.Client
	db            *dynamodb.Client
	s3            *s3.Client
	machineARN    string
	table         string   // the token table, as the starter's TABLE_NAME names it
	bucket        string   // the runs bucket, as the planner's CROSSBUILD_BUCKET names it
	starterARN    string   // function ARNs, as the definition's tasks name them
	pollerARN     string   //
	plannerARN    string   //
	summariserARN string   //
	deadLetter    []string // the ARNs of the rules' dead-letter queues
}

// startWorld starts a world from the prerequisites with opts' test settings, and stops it
// when the test ends. On failure it prints where the logs are and their tails.
func startWorld(t *testing.T, opts world.Options) *testWorld {
	t.Helper()
	opts = withPrerequisites(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	began := time.Now()
	w, err := world.Start(ctx, opts)
	if err != nil {
		dumpLogs(t, opts.LogDir)
		t.Fatalf("start the world: %v", err)
	}
	t.Logf("world on %s started in %s, logs in %s", w.Endpoint, time.Since(began).Round(time.Millisecond), opts.LogDir)
	endpointEnv := "AWS_ENDPOINT_URL=" + w.Endpoint
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close the world: %v", err)
		}
		if t.Failed() {
			dumpLogs(t, opts.LogDir)
		}
		// The functions' processes carry the world's endpoint in their environment.
		if left := waitGone(func() []int { return withEnv(endpointEnv) }, 10*time.Second); len(left) > 0 {
			t.Errorf("function processes still running after Close: %v", left)
		}
	})

	tw := &testWorld{World: w, logDir: opts.LogDir,
		sfn: sfn.NewFromConfig(w.Operator(sourceAccount, sourceRegion)),
		db:  dynamodb.NewFromConfig(w.Operator(sourceAccount, sourceRegion)),
		s3:  s3.NewFromConfig(w.Operator(sourceAccount, sourceRegion)),
	}
	var ok bool
	if tw.machineARN, ok = w.StateMachines[stateMachine]; !ok {
		t.Fatalf("no state machine %q in the assembly: %v", stateMachine, w.StateMachines)
	}
	if tw.table, err = functionEnv(w.Stacks, "crossbuild-starter", "TABLE_NAME"); err != nil {
		t.Fatal(err)
	}
	if tw.bucket, err = functionEnv(w.Stacks, "crossbuild-planner", "CROSSBUILD_BUCKET"); err != nil {
		t.Fatal(err)
	}
	for _, arn := range w.Lambda.Functions() {
		switch {
		case strings.HasSuffix(arn, ":function:crossbuild-starter"):
			tw.starterARN = arn
		case strings.HasSuffix(arn, ":function:crossbuild-poller"):
			tw.pollerARN = arn
		case strings.HasSuffix(arn, ":function:crossbuild-planner"):
			tw.plannerARN = arn
		case strings.HasSuffix(arn, ":function:crossbuild-summariser"):
			tw.summariserARN = arn
		}
	}
	if tw.starterARN == "" || tw.pollerARN == "" || tw.plannerARN == "" || tw.summariserARN == "" {
		t.Fatalf("starter, poller, planner or summariser missing among the functions %v", w.Lambda.Functions())
	}
	if tw.deadLetter, err = deadLetterQueues(w.Stacks); err != nil {
		t.Fatal(err)
	}
	if len(tw.deadLetter) == 0 {
		t.Fatal("no rule of the assembly has a dead-letter queue; the scenarios check them")
	}
	return tw
}

// withPrerequisites completes a test's world options with the prerequisites and a log
// and work folder of the test's own. The logs go to the test's artifact folder: temporary,
// unless `go test -artifacts` asks to keep it.
func withPrerequisites(t *testing.T, opts world.Options) world.Options {
	t.Helper()
	needRuntime(t)
	opts.Assembly, opts.Functions = prereq.assembly, prereq.functions
	opts.RIEBinary, opts.Dynalite = prereq.rie, prereq.dynalite
	opts.LogDir = t.ArtifactDir()
	opts.WorkDir = t.TempDir()
	return opts
}

// functionEnv returns a variable of a function's environment, as the template gives it.
func functionEnv(stacks []*cfn.Stack, function, variable string) (string, error) {
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			props, err := s.Properties(id)
			if err != nil {
				return "", err
			}
			if props["FunctionName"] != function {
				continue
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if value, _ := vars[variable].(string); value != "" {
				return value, nil
			}
			return "", fmt.Errorf("%s in %s has no %s", function, s.Name, variable)
		}
	}
	return "", fmt.Errorf("no function named %s in the assembly", function)
}

// deadLetterQueues returns the dead-letter queue ARNs of every rule target.
func deadLetterQueues(stacks []*cfn.Stack) ([]string, error) {
	var out []string
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::Events::Rule") {
			raw, err := s.PropertiesJSON(id, "Targets")
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", s.Name, id, err)
			}
			var targets []struct{ DeadLetterConfig struct{ Arn string } }
			if err := json.Unmarshal(raw, &targets); err != nil {
				return nil, fmt.Errorf("%s/%s targets: %w", s.Name, id, err)
			}
			for _, tg := range targets {
				if tg.DeadLetterConfig.Arn != "" {
					out = append(out, tg.DeadLetterConfig.Arn)
				}
			}
		}
	}
	return out, nil
}

// dumpLogs prints the tail of runtime.log and of every function's log.
func dumpLogs(t *testing.T, dir string) {
	t.Helper()
	t.Logf("logs of the failed world: %s (kept when the tests run with -artifacts)", dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		if filepath.Base(f) == "dynalite.log" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		t.Logf("--- tail of %s:\n%s", filepath.Base(f), tail(string(b), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Executions.

// execution is one finished (or stopped) execution as an operator reads it through the API:
// the parent's description and its own history, its Map Run, and every child execution of
// the Map Run (one per target) with its own history.
type execution struct {
	arn      string
	desc     *sfn.DescribeExecutionOutput
	history  []sfntypes.HistoryEvent // the parent's own events
	mapRuns  []*sfn.DescribeMapRunOutput
	children map[int]*child                // by map index
	builds   map[int][]codebuild.BuildInfo // by map index
}

// child is a child execution of the Distributed Map: one target.
type child struct {
	arn     string
	desc    *sfn.DescribeExecutionOutput
	history []sfntypes.HistoryEvent
}

// start starts an execution of the crossbuild state machine.
func (tw *testWorld) start(t *testing.T, name string, input any) string {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatalf("encode the input: %v", err)
	}
	return tw.startRaw(t, name, string(raw))
}

// startRaw starts an execution with an input given as JSON text.
func (tw *testWorld) startRaw(t *testing.T, name, input string) string {
	t.Helper()
	out, err := tw.sfn.StartExecution(t.Context(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(tw.machineARN), Name: aws.String(name), Input: aws.String(input),
	})
	if err != nil {
		t.Fatalf("start execution %s: %v", name, err)
	}
	return aws.ToString(out.ExecutionArn)
}

// run starts an execution, waits until it ends and reads it.
func (tw *testWorld) run(t *testing.T, name string, input any) *execution {
	t.Helper()
	arn := tw.start(t, name, input)
	tw.waitEnded(t, arn)
	return tw.read(t, arn)
}

// waitEnded polls DescribeExecution until the execution is no longer running.
func (tw *testWorld) waitEnded(t *testing.T, arn string) {
	t.Helper()
	tw.waitEndedWithin(t, arn, executionTimeout)
}

func (tw *testWorld) waitEndedWithin(t *testing.T, arn string, limit time.Duration) {
	t.Helper()
	err := poll(limit, func() (bool, error) {
		d, err := tw.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return false, err
		}
		return d.Status != sfntypes.ExecutionStatusRunning, nil
	})
	if err != nil {
		t.Fatalf("execution %s: %v", arn, err)
	}
}

// read describes an execution and pages through its history, finds its Map Run and the
// child executions (ListMapRuns, ListExecutions by Map Run), describes each child and pages
// through its history, and finds the builds the execution started.
func (tw *testWorld) read(t *testing.T, arn string) *execution {
	t.Helper()
	x := &execution{arn: arn, children: map[int]*child{}}
	x.desc = tw.describe(t, arn)
	x.history = tw.history(t, arn)
	for _, runARN := range tw.mapRunsOf(t, arn) {
		run, err := tw.sfn.DescribeMapRun(t.Context(), &sfn.DescribeMapRunInput{MapRunArn: aws.String(runARN)})
		if err != nil {
			t.Fatalf("describe map run %s: %v", runARN, err)
		}
		x.mapRuns = append(x.mapRuns, run)
		for _, childARN := range tw.childrenOf(t, runARN) {
			c := &child{arn: childARN, desc: tw.describe(t, childARN), history: tw.history(t, childARN)}
			if got := aws.ToString(c.desc.MapRunArn); got != runARN {
				t.Errorf("child %s describes map run %q, want %s", childARN, got, runARN)
			}
			var in struct {
				MapIndex     *int   `json:"mapIndex"`
				ExecutionARN string `json:"executionArn"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(c.desc.Input)), &in); err != nil || in.MapIndex == nil {
				t.Fatalf("child %s input %s has no mapIndex (%v)", childARN, aws.ToString(c.desc.Input), err)
			}
			// The ItemSelector runs in the parent's context: the child names its parent.
			if in.ExecutionARN != arn {
				t.Errorf("child %s input names execution %q, want the parent %s", childARN, in.ExecutionARN, arn)
			}
			if prev, dup := x.children[*in.MapIndex]; dup {
				t.Fatalf("map index %d has two child executions: %s and %s", *in.MapIndex, prev.arn, childARN)
			}
			x.children[*in.MapIndex] = c
		}
	}
	if len(x.mapRuns) > 1 {
		t.Errorf("execution %s started %d map runs, want at most one (the Map state has no Retry)", arn, len(x.mapRuns))
	}
	x.builds = tw.buildsOf(arn)
	if odd := x.builds[-1]; len(odd) > 0 {
		t.Errorf("build %s of %s has no usable CROSSBUILD_MAP_INDEX", odd[0].ID, arn)
	}
	return x
}

func (tw *testWorld) describe(t *testing.T, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	d, err := tw.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("describe %s: %v", arn, err)
	}
	return d
}

// maxPages bounds every listing.
const maxPages = 1000

// history reads every event of an execution through GetExecutionHistory's pages.
func (tw *testWorld) history(t *testing.T, arn string) []sfntypes.HistoryEvent {
	t.Helper()
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(tw.sfn, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), MaxResults: 100,
	})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > maxPages {
			t.Fatalf("history of %s: more than %d pages", arn, maxPages)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("history of %s: %v", arn, err)
		}
		events = append(events, page.Events...)
	}
	return events
}

// mapRunsOf lists the Map Runs an execution started.
func (tw *testWorld) mapRunsOf(t *testing.T, arn string) []string {
	t.Helper()
	var out []string
	p := sfn.NewListMapRunsPaginator(tw.sfn, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > maxPages {
			t.Fatalf("map runs of %s: more than %d pages", arn, maxPages)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("map runs of %s: %v", arn, err)
		}
		for _, r := range page.MapRuns {
			out = append(out, aws.ToString(r.MapRunArn))
		}
	}
	return out
}

// childrenOf lists the child executions of a Map Run.
func (tw *testWorld) childrenOf(t *testing.T, mapRunARN string) []string {
	t.Helper()
	var out []string
	p := sfn.NewListExecutionsPaginator(tw.sfn, &sfn.ListExecutionsInput{MapRunArn: aws.String(mapRunARN), MaxResults: 100})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > maxPages {
			t.Fatalf("children of %s: more than %d pages", mapRunARN, maxPages)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("children of %s: %v", mapRunARN, err)
		}
		for _, e := range page.Executions {
			out = append(out, aws.ToString(e.ExecutionArn))
		}
	}
	return out
}

// buildsOf finds the builds an execution started, by the correlation variables the
// starter gives every build: the parent's ARN, which the children pass on, and the index.
func (tw *testWorld) buildsOf(arn string) map[int][]codebuild.BuildInfo {
	out := map[int][]codebuild.BuildInfo{}
	for _, b := range tw.CodeBuild.Builds() {
		if envOf(b, "CROSSBUILD_EXECUTION_ARN") != arn {
			continue
		}
		i, err := strconv.Atoi(envOf(b, "CROSSBUILD_MAP_INDEX"))
		if err != nil {
			i = -1 // reported by the caller's count check
		}
		out[i] = append(out[i], b)
	}
	return out
}

func envOf(b codebuild.BuildInfo, name string) string {
	for _, e := range b.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// settle waits until every build has completed and EventBridge has delivered (or
// dropped) every event, so late events have had their effect.
func (tw *testWorld) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), settleTimeout)
	defer cancel()
	for _, b := range tw.CodeBuild.Builds() {
		if _, err := tw.CodeBuild.Wait(ctx, b.Account, b.Region, b.ID); err != nil {
			t.Fatalf("build %s: %v", b.ARN, err)
		}
	}
	// A build publishes its events before it completes, and a forward to another bus begins
	// its deliveries before it ends, so once EventBridge is idle every event has had its
	// effect: the callback invocations included.
	if err := tw.Events.Idle(ctx); err != nil {
		t.Fatal(err)
	}
}

// noDeadLetters checks that every event reached its target: the callback took every
// event, late or not, without an error.
func (tw *testWorld) noDeadLetters(t *testing.T) {
	t.Helper()
	for _, arn := range tw.deadLetter {
		if dl := tw.Events.DeadLetters(arn); len(dl) > 0 {
			t.Errorf("%d dead letters in %s, first: %s", len(dl), arn, dl[0].Body)
		}
	}
}

// tokenRecord reads a build's token record from the token table.
func (tw *testWorld) tokenRecord(t *testing.T, buildARN string) map[string]string {
	t.Helper()
	out, err := tw.db.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(tw.table), ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{"buildArn": &dbtypes.AttributeValueMemberS{Value: buildARN}},
	})
	if err != nil {
		t.Fatalf("token record of %s: %v", buildARN, err)
	}
	rec := map[string]string{}
	for k, v := range out.Item {
		switch v := v.(type) {
		case *dbtypes.AttributeValueMemberS:
			rec[k] = v.Value
		case *dbtypes.AttributeValueMemberN:
			rec[k] = v.Value
		}
	}
	return rec
}

// poll calls done every pollEvery until it reports true, fails, or limit passes.
func poll(limit time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", limit)
		}
		time.Sleep(pollEvery)
	}
}

// Children and Map Runs.

// child returns the child execution of a map index, which must exist.
func (x *execution) child(t *testing.T, index int) *child {
	t.Helper()
	c, ok := x.children[index]
	if !ok {
		t.Fatalf("execution %s has no child execution for map index %d (children: %d)", x.arn, index, len(x.children))
	}
	return c
}

// childEvents returns the events of every child, in map index order: the work of the
// targets, which counts across the children read.
func (x *execution) childEvents() []sfntypes.HistoryEvent {
	var out []sfntypes.HistoryEvent
	for _, i := range slices.Sorted(maps.Keys(x.children)) {
		out = append(out, x.children[i].history...)
	}
	return out
}

// mapRun returns the execution's Map Run, which must exist.
func (x *execution) mapRun(t *testing.T) *sfn.DescribeMapRunOutput {
	t.Helper()
	if len(x.mapRuns) == 0 {
		t.Fatalf("execution %s started no map run:%s", x.arn, typesOf(x.history))
	}
	return x.mapRuns[0]
}

// History.

// count returns how many events have the type.
func count(h []sfntypes.HistoryEvent, typ sfntypes.HistoryEventType) int {
	n := 0
	for _, e := range h {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// entered returns how many times a state was entered.
func entered(h []sfntypes.HistoryEvent, state string) int {
	n := 0
	for _, e := range h {
		if d := e.StateEnteredEventDetails; d != nil && aws.ToString(d.Name) == state {
			n++
		}
	}
	return n
}

// scheduled returns how many Lambda tasks of a function were scheduled.
func scheduled(t *testing.T, h []sfntypes.HistoryEvent, functionARN string) int {
	t.Helper()
	n := 0
	for _, e := range h {
		d := e.TaskScheduledEventDetails
		if e.Type != sfntypes.HistoryEventTypeTaskScheduled || d == nil {
			continue
		}
		var p struct{ FunctionName string }
		if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err != nil {
			t.Fatalf("TaskScheduled %d parameters: %v", e.Id, err)
		}
		if p.FunctionName == functionARN {
			n++
		}
	}
	return n
}

// taskErrors lists the errors of the events of one type (TaskFailed, TaskTimedOut).
func taskErrors(h []sfntypes.HistoryEvent, typ sfntypes.HistoryEventType) []string {
	var out []string
	for _, e := range h {
		if e.Type != typ {
			continue
		}
		switch {
		case e.TaskFailedEventDetails != nil:
			out = append(out, aws.ToString(e.TaskFailedEventDetails.Error))
		case e.TaskTimedOutEventDetails != nil:
			out = append(out, aws.ToString(e.TaskTimedOutEventDetails.Error))
		}
	}
	sort.Strings(out)
	return out
}

// stateOutput returns the output a state exited with (the last time it did).
func stateOutput(h []sfntypes.HistoryEvent, state string) (string, bool) {
	for _, e := range slices.Backward(h) {
		if d := e.StateExitedEventDetails; d != nil && aws.ToString(d.Name) == state {
			return aws.ToString(d.Output), true
		}
	}
	return "", false
}

// typesOf lists the event types, for failure messages.
func typesOf(h []sfntypes.HistoryEvent) string {
	var b strings.Builder
	for _, e := range h {
		name := ""
		if d := e.StateEnteredEventDetails; d != nil {
			name = "(" + aws.ToString(d.Name) + ")"
		}
		fmt.Fprintf(&b, "\n  %3d %s%s", e.Id, e.Type, name)
	}
	return b.String()
}

// Output.

// output is the execution output (docs/reference.md, "Execution output").
type output struct {
	Summary         summary  `json:"summary"`
	Results         []result `json:"results"`
	FailedTargets   []result `json:"failedTargets"`
	ResultsLocation struct {
		Bucket   string  `json:"bucket"`
		Prefix   string  `json:"prefix"`
		Manifest *string `json:"manifest"`
	} `json:"resultsLocation"`
}

type summary struct {
	Total                      int            `json:"total"`
	Succeeded                  int            `json:"succeeded"`
	Failed                     int            `json:"failed"`
	NotRun                     int            `json:"notRun"`
	ByStatus                   map[string]int `json:"byStatus"`
	ByError                    map[string]int `json:"byError"`
	ToleratedFailureCount      int            `json:"toleratedFailureCount"`
	ToleratedFailurePercentage float64        `json:"toleratedFailurePercentage"`
}

// result is one target's result: the per-target result of a build that ran, or the
// failure result shaped by the state machine.
type result struct {
	MapIndex        *int     `json:"mapIndex"`
	Account         string   `json:"account"`
	Region          string   `json:"region"`
	Project         string   `json:"project"`
	RoleARN         string   `json:"roleArn"`
	BuildID         string   `json:"buildId"`
	BuildARN        string   `json:"buildArn"`
	Status          string   `json:"status"`
	CompletedBy     string   `json:"completedBy"`
	StartTime       string   `json:"startTime"`
	EndTime         string   `json:"endTime"`
	LogsDeepLink    string   `json:"logsDeepLink"`
	EnvOverrides    []string `json:"envOverrides"`
	FailedPhase     string   `json:"failedPhase"`
	Error           string   `json:"error"`
	Cause           string   `json:"cause"`
	DurationSeconds *int64   `json:"durationSeconds"`
}

// failureCause is the cause of CodeBuild.<STATUS> errors.
type failureCause struct {
	BuildARN     string `json:"buildArn"`
	Status       string `json:"status"`
	Phase        string `json:"phase"`
	LogsDeepLink string `json:"logsDeepLink"`
}

// report is the output of the Summarise state: the execution's output, and for a failed
// run the cause the execution fails with.
type report struct {
	Output json.RawMessage `json:"output"`
	Failed bool            `json:"failed"`
	Cause  string          `json:"cause"`
}

// decodeOutput decodes an execution output, or for an execution that failed, the output
// the Summarise state reported (the failed execution itself has none), whose cause must be
// the execution's.
func (x *execution) decodeOutput(t *testing.T) output {
	t.Helper()
	raw := aws.ToString(x.desc.Output)
	if x.desc.Status != sfntypes.ExecutionStatusSucceeded {
		text, ok := stateOutput(x.history, "Summarise")
		if !ok {
			t.Fatalf("execution %s: no output and no Summarise state in its history:%s", x.arn, typesOf(x.history))
		}
		var r report
		if err := strictDecode(text, &r); err != nil {
			t.Fatalf("Summarise output %s: %v", text, err)
		}
		if !r.Failed || r.Cause != aws.ToString(x.desc.Cause) {
			t.Errorf("Summarise reported failed %v with cause %q; the execution's cause is %q", r.Failed, r.Cause, aws.ToString(x.desc.Cause))
		}
		raw = string(r.Output)
	}
	var o output
	if err := strictDecode(raw, &o); err != nil {
		t.Fatalf("execution output %s: %v", raw, err)
	}
	return o
}

// strictDecode decodes JSON text that must have no field v does not know.
func strictDecode(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Results in S3.

// exported is what the Map Run's ResultWriter wrote, read back through S3 with the
// operator's credentials.
type exported struct {
	manifestKey string
	manifest    manifest
	entries     map[int]resultEntry // by map index
	kinds       map[string]int      // entries per result file kind
}

// manifest is the ResultWriter's manifest.json.
type manifest struct {
	DestinationBucket string `json:"DestinationBucket"`
	MapRunArn         string `json:"MapRunArn"`
	ResultFiles       map[string][]struct {
		Key  string `json:"Key"`
		Size int64  `json:"Size"`
	} `json:"ResultFiles"`
}

// resultEntry is one child execution in a result file. Input and Output are JSON text.
type resultEntry struct {
	ExecutionArn        string       `json:"ExecutionArn"`
	Input               string       `json:"Input"`
	InputDetails        *dataDetails `json:"InputDetails"`
	Name                string       `json:"Name"`
	Output              *string      `json:"Output"`
	OutputDetails       *dataDetails `json:"OutputDetails"`
	RedriveCount        *int         `json:"RedriveCount"`
	RedriveStatus       string       `json:"RedriveStatus"`
	RedriveStatusReason string       `json:"RedriveStatusReason"`
	StartDate           string       `json:"StartDate"`
	StateMachineArn     string       `json:"StateMachineArn"`
	Status              string       `json:"Status"`
	StopDate            string       `json:"StopDate"`
	Error               *string      `json:"Error"`
	Cause               *string      `json:"Cause"`
}

type dataDetails struct {
	Included bool `json:"Included"`
}

// resultFileKinds are the manifest's ResultFiles keys, and the statuses each file holds.
var resultFileKinds = map[string][]string{
	"SUCCEEDED": {"SUCCEEDED"},
	"FAILED":    {"FAILED", "ABORTED", "TIMED_OUT"},
	"PENDING":   {"PENDING"},
}

// exported reads the results of the execution's Map Run from the runs bucket: it lists
// runs/<name>/results/, which must hold exactly the Map Run's manifest and the files it
// names, and decodes every entry.
func (tw *testWorld) exported(t *testing.T, x *execution) *exported {
	t.Helper()
	run := x.mapRun(t)
	runARN := aws.ToString(run.MapRunArn)
	prefix := "runs/" + aws.ToString(x.desc.Name) + "/results/"
	ex := &exported{
		manifestKey: prefix + runARN[strings.LastIndexByte(runARN, ':')+1:] + "/manifest.json",
		entries:     map[int]resultEntry{},
		kinds:       map[string]int{},
	}
	listed := tw.listObjects(t, prefix)
	if _, ok := listed[ex.manifestKey]; !ok {
		t.Fatalf("no manifest %s in s3://%s; objects: %v", ex.manifestKey, tw.bucket, slices.Sorted(maps.Keys(listed)))
	}
	if err := strictDecode(string(tw.getObject(t, ex.manifestKey)), &ex.manifest); err != nil {
		t.Fatalf("manifest %s: %v", ex.manifestKey, err)
	}
	if ex.manifest.DestinationBucket != tw.bucket || ex.manifest.MapRunArn != runARN {
		t.Errorf("manifest names bucket %q and map run %q, want %s and %s", ex.manifest.DestinationBucket, ex.manifest.MapRunArn, tw.bucket, runARN)
	}
	named := map[string]bool{ex.manifestKey: true}
	for kind, files := range ex.manifest.ResultFiles {
		statuses, known := resultFileKinds[kind]
		if !known {
			t.Errorf("manifest lists result files of kind %q", kind)
		}
		for _, f := range files {
			named[f.Key] = true
			body := tw.getObject(t, f.Key)
			if int64(len(body)) != f.Size || listed[f.Key] != f.Size {
				t.Errorf("result file %s: %d bytes, listed with %d, the manifest says %d", f.Key, len(body), listed[f.Key], f.Size)
			}
			var entries []resultEntry
			if err := strictDecode(string(body), &entries); err != nil {
				t.Fatalf("result file %s: %v", f.Key, err)
			}
			for _, e := range entries {
				ex.kinds[kind]++
				if !slices.Contains(statuses, e.Status) {
					t.Errorf("result file %s holds an entry with status %s", f.Key, e.Status)
				}
				var in struct {
					MapIndex *int `json:"mapIndex"`
				}
				if err := json.Unmarshal([]byte(e.Input), &in); err != nil || in.MapIndex == nil {
					t.Fatalf("result file %s: entry input %q has no mapIndex", f.Key, e.Input)
				}
				if _, dup := ex.entries[*in.MapIndex]; dup {
					t.Errorf("map index %d has two result entries", *in.MapIndex)
				}
				if c, ok := x.children[*in.MapIndex]; ok && c.arn != e.ExecutionArn {
					t.Errorf("result entry of map index %d names execution %q, want the child %s", *in.MapIndex, e.ExecutionArn, c.arn)
				}
				if problem := e.problem(tw.machineARN + "/" + mapRunLabel); problem != "" {
					t.Errorf("result entry of map index %d in %s: %s", *in.MapIndex, f.Key, problem)
				}
				ex.entries[*in.MapIndex] = e
			}
		}
	}
	for key := range listed {
		if !named[key] {
			t.Errorf("s3://%s/%s is neither the manifest nor a file it names", tw.bucket, key)
		}
	}
	return ex
}

// mapRunLabel is the Distributed Map's Label: children run <state machine ARN>/<label>.
const mapRunLabel = "targets"

// problem says what an entry lacks of the fields Step Functions exports for its status, or
// "". A child that ran has its ARN, name, dates and redrive fields; one that succeeded its
// output, one that failed its error instead; an item never started only its input.
func (e resultEntry) problem(childMachine string) string {
	switch {
	case e.StateMachineArn != childMachine:
		return fmt.Sprintf("state machine %q, want %s", e.StateMachineArn, childMachine)
	case e.Input == "" || e.InputDetails == nil || !e.InputDetails.Included:
		return "no included input"
	case e.RedriveCount == nil || *e.RedriveCount != 0 || e.RedriveStatus != "NOT_REDRIVABLE":
		return fmt.Sprintf("redrive count %v status %q, want 0 and NOT_REDRIVABLE", e.RedriveCount, e.RedriveStatus)
	case e.Status == "PENDING":
		if e.ExecutionArn != "" || e.Name != "" || e.StartDate != "" || e.Output != nil || e.Error != nil {
			return "an item never started carries execution fields"
		}
		return ""
	case e.ExecutionArn == "" || e.Name == "" || e.StartDate == "" || e.StopDate == "" || e.RedriveStatusReason == "":
		return "a child that ran lacks its ARN, name, dates or redrive reason"
	case e.Status == "SUCCEEDED" && (e.Output == nil || e.OutputDetails == nil || !e.OutputDetails.Included || e.Error != nil || e.Cause != nil):
		return "a child that succeeded lacks its included output, or has an error"
	case e.Status != "SUCCEEDED" && (e.Output != nil || e.OutputDetails != nil):
		return "a child that did not succeed has an output"
	case e.Status == "FAILED" && (e.Error == nil || e.Cause == nil):
		return "a child that failed lacks its error or cause"
	}
	return ""
}

// result returns a map index's result as the results in S3 give it: the output of a child
// that succeeded, the failure result a child that failed carries as its cause, or for a
// child that did not end through its Fail state (aborted, never started) its status.
func (ex *exported) result(t *testing.T, index int) result {
	t.Helper()
	e, ok := ex.entries[index]
	if !ok {
		t.Fatalf("no result entry for map index %d", index)
	}
	var r result
	switch {
	case e.Status == "SUCCEEDED" && e.Output != nil:
		if err := strictDecode(*e.Output, &r); err != nil {
			t.Fatalf("output of map index %d: %v", index, err)
		}
	case e.Status == "FAILED" && e.Cause != nil:
		if err := strictDecode(*e.Cause, &r); err != nil {
			t.Fatalf("cause of map index %d: %v", index, err)
		}
		if e.Error == nil || *e.Error != r.Error {
			t.Errorf("map index %d failed with error %v, its failure result names %q", index, e.Error, r.Error)
		}
	default:
		r.Status = e.Status
	}
	return r
}

// listObjects lists the runs bucket's keys under a prefix, with their sizes.
func (tw *testWorld) listObjects(t *testing.T, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(tw.s3, &s3.ListObjectsV2Input{Bucket: aws.String(tw.bucket), Prefix: aws.String(prefix)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > maxPages {
			t.Fatalf("s3://%s/%s: more than %d pages", tw.bucket, prefix, maxPages)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", tw.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return out
}

// getObject reads an object of the runs bucket.
func (tw *testWorld) getObject(t *testing.T, key string) []byte {
	t.Helper()
	out, err := tw.s3.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(tw.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", tw.bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", tw.bucket, key, err)
	}
	return b
}

// putObject writes an object into the runs bucket.
func (tw *testWorld) putObject(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := tw.s3.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(tw.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", tw.bucket, key, err)
	}
}

// Inputs.

// target is one execution input target.
type target map[string]any

// defaultTargets returns the demo's three targets: the walkthrough input over two target
// accounts and two Regions, the third with extra values.
func defaultTargets(t *testing.T) []target {
	t.Helper()
	var in struct {
		Targets []target `json:"crossAccountTargetRoleArns"`
	}
	if err := json.Unmarshal([]byte(demo.DefaultInput), &in); err != nil {
		t.Fatalf("the demo input: %v", err)
	}
	if len(in.Targets) != 3 {
		t.Fatalf("the demo input has %d targets, the scenarios are written for 3", len(in.Targets))
	}
	return in.Targets
}

func (tg target) str(key string) string { s, _ := tg[key].(string); return s }

// account returns the account of the target's role ARN.
func (tg target) account() string {
	parts := strings.SplitN(tg.str("arn"), ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// reserved are the target keys that do not become environment variables.
var reserved = map[string]bool{
	"arn": true, "region": true, "codeBuildProject": true, "environmentVariables": true,
	"completion": true, "pollIntervalSeconds": true, "heartbeatSeconds": true,
	"timeoutSeconds": true, "sourceVersion": true, "timeoutInMinutes": true,
}

// expectedEnv returns the variables a target's build must see, by the synthesized
// app's defaults: the constant, the renamed sample keys, any other key as it is.
func (tg target) expectedEnv() map[string]string {
	env := map[string]string{"HARDCODED_VAR1": "I am hardcoded"}
	rename := map[string]string{"SampleValue1": "SAMPLE_VAR1", "SampleValue2": "SAMPLE_VAR2"}
	for k, v := range tg {
		if reserved[k] {
			continue
		}
		if r, ok := rename[k]; ok {
			k = r
		}
		env[k] = fmt.Sprint(v)
	}
	return env
}
