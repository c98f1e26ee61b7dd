// Package demo runs one execution of the crossbuild state machine in a local world and
// narrates it: a live line per target, the execution's output, the environment each build
// printed, and one target's X-Ray trace as a timeline.
package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/tracing"
	"github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/world"
	"github.com/crossbuild/crossbuild/local/xray"
)

// DefaultInput is the original walkthrough's input extended to three targets: two target
// accounts, two Regions, one target with extra environment values.
const DefaultInput = `{
  "crossAccountTargetRoleArns": [
    {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
     "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1", "SampleValue2": "Value2"},
    {"arn": "arn:aws:iam::333333333333:role/crossbuild-target-role", "region": "us-east-1",
     "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1", "SampleValue2": "Value2"},
    {"arn": "arn:aws:iam::222222222222:role/crossbuild-target-role", "region": "eu-west-1",
     "codeBuildProject": "sample-codebuild-project", "SampleValue1": "Value1",
     "DEPLOY_ENV": "staging", "RELEASE": "2026.11.26"}
  ]
}`

// Options of one run.
type Options struct {
	StateMachine string        // name; default "crossbuild"
	Input        string        // execution input; default DefaultInput
	Name         string        // execution name; default generated
	Timeout      time.Duration // for the whole execution; default 10 minutes
	Poll         time.Duration // how often progress is read; default 200 ms
}

// Result is how the execution ended.
type Result struct {
	ExecutionARN string
	Status       string // SUCCEEDED, FAILED, ...
	Output       json.RawMessage
	Error, Cause string
	Builds       []codebuild.BuildInfo
}

// Run starts the execution and narrates it to out until it ends.
func Run(ctx context.Context, w *world.World, opts Options, out io.Writer) (Result, error) {
	if opts.StateMachine == "" {
		opts.StateMachine = "crossbuild"
	}
	if opts.Input == "" {
		opts.Input = DefaultInput
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.Name == "" {
		opts.Name = "demo-" + time.Now().UTC().Format("20060102-150405")
	}
	arn, ok := w.StateMachines[opts.StateMachine]
	if !ok {
		return Result{}, fmt.Errorf("no state machine named %q in the assembly", opts.StateMachine)
	}
	account, region := arnAccountRegion(arn)
	client := sfn.NewFromConfig(w.Operator(account, region))
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	started, err := client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(arn), Name: aws.String(opts.Name), Input: aws.String(opts.Input),
	})
	if err != nil {
		return Result{}, fmt.Errorf("start execution: %w", err)
	}
	execARN := aws.ToString(started.ExecutionArn)
	fmt.Fprintf(out, "execution %s\n", execARN)

	seen := map[string]string{} // build ARN -> last status line printed
	records := newRecordReader(ctx, w)
	var desc *sfn.DescribeExecutionOutput
	ticker := time.NewTicker(opts.Poll)
	defer ticker.Stop()
	for {
		printProgress(out, w, execARN, seen, records)
		desc, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execARN)})
		if err != nil {
			return Result{}, fmt.Errorf("describe execution: %w", err)
		}
		if desc.Status != sfntypes.ExecutionStatusRunning {
			break
		}
		select {
		case <-ctx.Done():
			_, _ = client.StopExecution(context.WithoutCancel(ctx), &sfn.StopExecutionInput{
				ExecutionArn: aws.String(execARN), Error: aws.String("Demo.Timeout"), Cause: aws.String("the demo's time ran out")})
			return Result{}, fmt.Errorf("execution still running after %s; stopped it", opts.Timeout)
		case <-ticker.C:
		}
	}
	printProgress(out, w, execARN, seen, records)

	res := Result{ExecutionARN: execARN, Status: string(desc.Status), Error: aws.ToString(desc.Error), Cause: aws.ToString(desc.Cause)}
	if desc.Output != nil {
		res.Output = json.RawMessage(aws.ToString(desc.Output))
	}
	res.Builds = buildsOf(w, execARN)
	printResults(out, res)
	printTraces(ctx, out, w, client, execARN, res.Builds)
	return res, nil
}

// printTraces shows what an operator finds in X-Ray: the execution's own trace (planner,
// summariser), and for each build the invocations annotated with its ARN: the starter's in
// the trace of the target's child execution (each child of the Distributed Map is traced on
// its own), the callback's in traces of their own, linked back to the starter's by
// origin_trace_id.
func printTraces(ctx context.Context, out io.Writer, w *world.World, client *sfn.Client, execARN string, builds []codebuild.BuildInfo) {
	root, ok := w.ExecutionTrace(execARN)
	if !ok {
		return
	}
	// Segments arrive over UDP just after each invocation; give the last ones a moment.
	time.Sleep(200 * time.Millisecond)
	traces := w.XRay.Traces()
	fmt.Fprintf(out, "\nX-Ray: trace %s holds %d segments of this execution's own function invocations and their AWS calls\n", root, len(traces[root]))
	children := childExecutions(ctx, client, execARN)
	for _, b := range builds {
		index := envValue(b, "CROSSBUILD_MAP_INDEX")
		childRoot, _ := w.ExecutionTrace(children[index])
		counts := map[string]int{}
		linked := 0
		for _, s := range w.XRay.Find("build_arn", b.ARN) {
			counts[s.Name]++
			if s.TraceID != childRoot && s.Annotations["origin_trace_id"] == childRoot {
				linked++
			}
		}
		names := make([]string, 0, len(counts))
		for n, c := range counts {
			names = append(names, fmt.Sprintf("%s x%d", n, c))
		}
		sort.Strings(names)
		fmt.Fprintf(out, "  target %s: child execution %s, trace %s (%d segments)\n", index, children[index], childRoot, len(traces[childRoot]))
		fmt.Fprintf(out, "    annotation.build_arn = %q: %s; %d linked back by origin_trace_id\n", b.ARN, strings.Join(names, ", "), linked)
	}
	if len(builds) > 0 {
		printTimeline(ctx, out, w, builds[0])
	}
}

// timelineWidth is the width of the timeline's bars, in columns.
const timelineWidth = 50

// printTimeline draws the trace that holds a build: the starter that started it, the build
// with its phases, and the completion of its task.
func printTimeline(ctx context.Context, out io.Writer, w *world.World, b codebuild.BuildInfo) {
	root := BuildTrace(ctx, w, b)
	if root == "" {
		return
	}
	fmt.Fprintf(out, "\ntrace %s: target %s, build %s\n", root, envValue(b, "CROSSBUILD_MAP_INDEX"), b.ID)
	xray.Timeline(out, w.XRay.Trace(root), timelineWidth)
}

// BuildTrace returns the id of the trace that holds b's build segment, waiting briefly for
// the complete segment (the completion is sent as the task closes, just before the
// execution ends); "" when no function sent one.
func BuildTrace(ctx context.Context, w *world.World, b codebuild.BuildInfo) string {
	var root string
	for tries := 0; tries < 50 && ctx.Err() == nil; tries++ {
		root = ""
		complete := false
		for _, s := range w.XRay.Find(tracing.KeyBuildARN, b.ARN) {
			if s.Origin == buildtrace.Origin {
				root, complete = s.TraceID, complete || !s.InProgress
			}
		}
		if complete {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return root
}

// childExecutions maps each target's map index to its child execution, as an operator finds
// them: the execution's Map Run, its child executions, each one's input. What cannot be read
// is left out; the narration then names no child.
func childExecutions(ctx context.Context, client *sfn.Client, execARN string) map[string]string {
	out := map[string]string{}
	runs, err := client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(execARN)})
	if err != nil {
		return out
	}
	for _, run := range runs.MapRuns {
		p := sfn.NewListExecutionsPaginator(client, &sfn.ListExecutionsInput{MapRunArn: run.MapRunArn})
		for pages := 0; p.HasMorePages() && pages < maxPages; pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, e := range page.Executions {
				d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
				if err != nil {
					continue
				}
				var in struct {
					MapIndex *int `json:"mapIndex"`
				}
				if json.Unmarshal([]byte(aws.ToString(d.Input)), &in) == nil && in.MapIndex != nil {
					out[strconv.Itoa(*in.MapIndex)] = aws.ToString(e.ExecutionArn)
				}
			}
		}
	}
	return out
}

// maxPages bounds a listing of child executions: 100 a page, 10,000 children at most.
const maxPages = 100

// buildsOf finds the builds an execution started: the starter passes the execution ARN
// to every build as a correlation variable.
func buildsOf(w *world.World, execARN string) []codebuild.BuildInfo {
	var out []codebuild.BuildInfo
	for _, b := range w.CodeBuild.Builds() {
		if envValue(b, "CROSSBUILD_EXECUTION_ARN") == execARN {
			out = append(out, b)
		}
	}
	// By map index as a number: "10" comes after "9".
	index := func(b codebuild.BuildInfo) int {
		n, err := strconv.Atoi(envValue(b, "CROSSBUILD_MAP_INDEX"))
		if err != nil {
			return -1
		}
		return n
	}
	sort.SliceStable(out, func(i, j int) bool { return index(out[i]) < index(out[j]) })
	return out
}

func envValue(b codebuild.BuildInfo, name string) string {
	for _, e := range b.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func printProgress(out io.Writer, w *world.World, execARN string, seen map[string]string, records *recordReader) {
	for _, b := range buildsOf(w, execARN) {
		state := b.Status
		if b.Status == "IN_PROGRESS" && (b.CurrentPhase == "SUBMITTED" || b.CurrentPhase == "QUEUED") {
			state = "QUEUED"
		}
		if b.Complete {
			// The line is final once crossbuild has completed the target's task, by event or poll.
			by, ok := records.completedBy(b.ARN)
			if !ok {
				continue
			}
			state = fmt.Sprintf("%s (completed by %s, build took %s)", b.Status, by, b.End.Sub(b.Start).Round(time.Second))
		}
		if seen[b.ARN] == state {
			continue
		}
		prev := seen[b.ARN]
		seen[b.ARN] = state
		arrow := state
		if prev != "" {
			arrow = strings.SplitN(prev, " ", 2)[0] + " -> " + state
		}
		fmt.Fprintf(out, "  target %s  %s %-9s %-26s %s\n", envValue(b, "CROSSBUILD_MAP_INDEX"), b.Account, b.Region, b.Project, arrow)
	}
}

type targetResult struct {
	MapIndex        *int   `json:"mapIndex"`
	Account         string `json:"account"`
	Region          string `json:"region"`
	Project         string `json:"project"`
	RoleARN         string `json:"roleArn"`
	BuildID         string `json:"buildId"`
	Status          string `json:"status"`
	CompletedBy     string `json:"completedBy"`
	DurationSeconds int64  `json:"durationSeconds"`
	Error           string `json:"error"`
	Cause           string `json:"cause"`
}

func printResults(out io.Writer, res Result) {
	fmt.Fprintf(out, "\nexecution %s\n", res.Status)
	if res.Error != "" {
		fmt.Fprintf(out, "  error: %s\n  cause: %s\n", res.Error, res.Cause)
	}
	var body struct {
		Results []targetResult `json:"results"`
	}
	if len(res.Output) > 0 && json.Unmarshal(res.Output, &body) == nil {
		for i, r := range body.Results {
			if r.BuildID == "" {
				// No build started: the target itself was refused.
				account, _ := arnAccountRegion(r.RoleARN)
				fmt.Fprintf(out, "  result %d  %s %s %s  %s %s\n", i, account, r.Region, r.Project, r.Status, r.Error)
				continue
			}
			fmt.Fprintf(out, "  result %d  %s %s %s  %s completed by %s in %ds %s\n",
				i, r.Account, r.Region, r.BuildID, r.Status, r.CompletedBy, r.DurationSeconds, r.Error)
		}
		var pretty strings.Builder
		enc := json.NewEncoder(&pretty)
		enc.SetIndent("", "  ")
		var v any
		_ = json.Unmarshal(res.Output, &v)
		_ = enc.Encode(v)
		fmt.Fprintf(out, "\noutput:\n%s", pretty.String())
	}
	for _, b := range res.Builds {
		fmt.Fprintf(out, "\nbuild %s (%s %s) %s, env_vars.txt:\n", b.ID, b.Account, b.Region, b.Status)
		f, err := os.Open(filepath.Join(b.WorkDir, "env_vars.txt"))
		if err != nil {
			fmt.Fprintf(out, "  (none: %v)\n", err)
			continue
		}
		lines := []string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
}

func arnAccountRegion(s string) (account, region string) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", ""
	}
	return a.AccountID, a.Region
}

// recordReader reads crossbuild's token records, which say how each build's task was
// completed.
type recordReader struct {
	ctx    context.Context
	client *dynamodb.Client
	table  string
}

func newRecordReader(ctx context.Context, w *world.World) *recordReader {
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::DynamoDB::Table") {
			name, err := s.PhysicalName(id)
			if err == nil {
				return &recordReader{ctx: ctx, client: dynamodb.NewFromConfig(w.Operator(s.Account, s.Region)), table: name}
			}
		}
	}
	return &recordReader{}
}

// completedBy reports "event" or "poll" once the build's record is COMPLETED.
func (r *recordReader) completedBy(buildARN string) (string, bool) {
	if r.client == nil {
		return "", true
	}
	out, err := r.client.GetItem(r.ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.table), ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{"buildArn": &dbtypes.AttributeValueMemberS{Value: buildARN}},
	})
	if err != nil || out.Item == nil {
		return "", false
	}
	state, _ := out.Item["state"].(*dbtypes.AttributeValueMemberS)
	by, _ := out.Item["completedBy"].(*dbtypes.AttributeValueMemberS)
	if state == nil || state.Value != "COMPLETED" || by == nil {
		return "", false
	}
	return by.Value, true
}
