package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	logDir     string
	sfn        *sfn.Client
	db         *dynamodb.Client
	machineARN string
	table      string   // the token table, as the starter's TABLE_NAME names it
	starterARN string   // function ARNs, as the definition's tasks name them
	pollerARN  string   //
	deadLetter []string // the ARNs of the rules' dead-letter queues
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
	}
	var ok bool
	if tw.machineARN, ok = w.StateMachines[stateMachine]; !ok {
		t.Fatalf("no state machine %q in the assembly: %v", stateMachine, w.StateMachines)
	}
	if tw.table, err = starterTable(w.Stacks); err != nil {
		t.Fatal(err)
	}
	for _, arn := range w.Lambda.Functions() {
		switch {
		case strings.HasSuffix(arn, ":function:crossbuild-starter"):
			tw.starterARN = arn
		case strings.HasSuffix(arn, ":function:crossbuild-poller"):
			tw.pollerARN = arn
		}
	}
	if tw.starterARN == "" || tw.pollerARN == "" {
		t.Fatalf("starter or poller missing among the functions %v", w.Lambda.Functions())
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

// starterTable returns the token table's name as the starter's environment gives it.
func starterTable(stacks []*cfn.Stack) (string, error) {
	for _, s := range stacks {
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			props, err := s.Properties(id)
			if err != nil {
				return "", err
			}
			if props["FunctionName"] != "crossbuild-starter" {
				continue
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			if name, _ := vars["TABLE_NAME"].(string); name != "" {
				return name, nil
			}
			return "", fmt.Errorf("the starter in %s has no TABLE_NAME", s.Name)
		}
	}
	return "", errors.New("no function named crossbuild-starter in the assembly")
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

// execution is one finished (or stopped) execution as an operator reads it.
type execution struct {
	arn     string
	desc    *sfn.DescribeExecutionOutput
	history []sfntypes.HistoryEvent
	builds  map[int][]codebuild.BuildInfo // by map index
}

// start starts an execution of the crossbuild state machine.
func (tw *testWorld) start(t *testing.T, name string, input any) string {
	t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		t.Fatalf("encode the input: %v", err)
	}
	out, err := tw.sfn.StartExecution(t.Context(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(tw.machineARN), Name: aws.String(name), Input: aws.String(string(raw)),
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
	err := poll(executionTimeout, func() (bool, error) {
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

// read describes an execution, pages through its history and finds its builds.
func (tw *testWorld) read(t *testing.T, arn string) *execution {
	t.Helper()
	x := &execution{arn: arn}
	var err error
	if x.desc, err = tw.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
		t.Fatalf("describe %s: %v", arn, err)
	}
	x.history = tw.history(t, arn)
	x.builds = tw.buildsOf(arn)
	if odd := x.builds[-1]; len(odd) > 0 {
		t.Errorf("build %s of %s has no usable CROSSBUILD_MAP_INDEX", odd[0].ID, arn)
	}
	return x
}

// history reads every event of an execution through GetExecutionHistory's pages.
func (tw *testWorld) history(t *testing.T, arn string) []sfntypes.HistoryEvent {
	t.Helper()
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(tw.sfn, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(arn), MaxResults: 100,
	})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 1000 {
			t.Fatalf("history of %s: more than 1000 pages", arn)
		}
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("history of %s: %v", arn, err)
		}
		events = append(events, page.Events...)
	}
	return events
}

// buildsOf finds the builds an execution started, by the correlation variables the
// starter gives every build.
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
	Summary struct {
		Total            int `json:"total"`
		Succeeded        int `json:"succeeded"`
		Failed           int `json:"failed"`
		FailureTolerance int `json:"failureTolerance"`
	} `json:"summary"`
	Results       []result `json:"results"`
	FailedTargets []result `json:"failedTargets"`
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

// decodeOutput decodes an execution output, or for an execution that failed, the output
// of the state that summarised the results (the failed execution itself has none).
func (x *execution) decodeOutput(t *testing.T) output {
	t.Helper()
	raw := aws.ToString(x.desc.Output)
	if x.desc.Status != sfntypes.ExecutionStatusSucceeded {
		var ok bool
		if raw, ok = stateOutput(x.history, "Summarise"); !ok {
			t.Fatalf("execution %s: no output and no Summarise state in its history:%s", x.arn, typesOf(x.history))
		}
	}
	var o output
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("execution output %s: %v", raw, err)
	}
	return o
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
