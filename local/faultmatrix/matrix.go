// Package faultmatrix runs the real state machine over many targets under each fault of
// local/faults and measures what the completion protocol promises: no completion lost,
// none doubled or contradicting its build, one build per target, no build running on
// after an abort, and how late a task closes after its build ended. `make faults` prints
// the table (local/cmd/crossbuild-faults), local/e2e asserts it, docs/reliability.md
// records it.
package faultmatrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	localcb "github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/faults"
	"github.com/crossbuild/crossbuild/local/world"
)

// Settings of the worlds the matrix runs in. At a time scale of 30 the smallest heartbeat
// a target may ask for (60 s) times out after 2 s and the smallest poll interval (5 s)
// waits 1/6 s; a build takes about a second (ten phases of PhaseDelay).
const (
	TimeScale  = 30
	PhaseDelay = 100 * time.Millisecond
)

// sleepVariable makes a build's build phase sleep that many seconds (see Wire): the abort
// rows need builds still running when the execution stops.
const sleepVariable = "FAULTS_SLEEP_SECONDS"

// Correlation variables the starter gives every build (CORRELATION_PREFIX "CROSSBUILD_").
const (
	envExecution = "CROSSBUILD_EXECUTION_ARN"
	envMapIndex  = "CROSSBUILD_MAP_INDEX"
)

// Wire completes world options for the matrix: the injector between the functions and
// the stand-ins, builds that sleep on demand, the time scale and build phases above, and a
// short EventBridge retry backoff so a failed delivery is retried at once.
func Wire(opts world.Options, inj *faults.Injector) world.Options {
	opts.Intercept = inj.Intercept
	opts.EventTargets = inj.Events
	opts.TimeScale = TimeScale
	opts.PhaseDelay = PhaseDelay
	opts.EventRetryBackoff = func(int) time.Duration { return 20 * time.Millisecond }
	// A build without sleepVariable behaves as the app's sample project.
	return opts.ThenMutate(world.AppendBuildCommand(`if [ -n "${` + sleepVariable + `:-}" ]; then sleep "$` + sleepVariable + `"; fi`))
}

// Options configure a Runner.
type Options struct {
	Targets int   // per row; default 12
	Seed    int64 // each row's plan draws from Seed and the row's name
	// Timeout bounds one row's execution; default 90 s, less than the 120 s of wall time a
	// 3600 s heartbeat lasts, so a task that waits for a completion nobody sends is lost
	// rather than saved by the polling fallback.
	Timeout time.Duration
	// AbortWait is how long after the stop the builds still running are counted; default
	// 10 s, the bound the stopped-mid-build scenario of local/e2e holds the canceller to.
	AbortWait time.Duration
}

// Runner runs rows against one world, one after the other.
type Runner struct {
	w      *world.World
	inj    *faults.Injector
	opts   Options
	sfn    *sfn.Client
	db     *dynamodb.Client
	sm     string // the crossbuild state machine's ARN
	table  string // the token table
	places []place
	runs   int
}

// place is a target stack's sample project.
type place struct{ account, region, project string }

// NewRunner prepares to run rows in w, whose options came through Wire with inj.
func NewRunner(w *world.World, inj *faults.Injector, opts Options) (*Runner, error) {
	if opts.Targets <= 0 {
		opts.Targets = 12
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 90 * time.Second
	}
	if opts.AbortWait <= 0 {
		opts.AbortWait = 10 * time.Second
	}
	r := &Runner{w: w, inj: inj, opts: opts}
	var ok bool
	if r.sm, ok = w.StateMachines["crossbuild"]; !ok {
		return nil, errors.New("no crossbuild state machine in the assembly")
	}
	sm, err := arn.Parse(r.sm)
	if err != nil {
		return nil, fmt.Errorf("state machine ARN: %w", err)
	}
	cfg := w.Operator(sm.AccountID, sm.Region)
	r.sfn, r.db = sfn.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
			name, err := s.PhysicalName(id)
			if err != nil {
				return nil, err
			}
			r.places = append(r.places, place{s.Account, s.Region, name})
		}
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			props, err := s.Properties(id)
			if err != nil {
				return nil, err
			}
			if props["FunctionName"] != starter {
				continue
			}
			env, _ := props["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			r.table, _ = vars["TABLE_NAME"].(string)
		}
	}
	if len(r.places) == 0 || r.table == "" {
		return nil, errors.New("the assembly lacks a CodeBuild project or the starter's TABLE_NAME")
	}
	return r, nil
}

// Result is what one row measured.
type Result struct {
	Row     Row
	Targets int
	Status  string // how the execution ended
	// Lost counts targets whose task did not close with their build's outcome (abort rows:
	// builds whose record nobody closed). Double counts tasks with more than one accepted
	// completion, or closed with a result that contradicts their build. DuplicateBuilds
	// counts builds beyond the first of one execution and map index. LeftRunning counts the
	// builds still running AbortWait after the stop (abort rows; -1 elsewhere).
	Lost, Double, DuplicateBuilds, LeftRunning int
	// WorstDelay is the longest time from a build's end to its task closing; on abort rows,
	// from the stop to the last build stopped within AbortWait. ByPoll counts the tasks the
	// polling fallback closed.
	WorstDelay time.Duration
	ByPoll     int
	// TaskErrors counts the errors of the failed and timed-out task attempts in the
	// children's histories: what Step Functions saw (Runtime.ExitError for a killed
	// starter, States.HeartbeatTimeout before a fallback to polling).
	TaskErrors map[string]int
	Counts     []faults.Count
	Injected   int
	// Evidence says, one line each, what went wrong for which target.
	Evidence []string
	Wall     time.Duration
}

// OK reports whether the row kept every promise.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Double == 0 && r.DuplicateBuilds == 0 && r.LeftRunning <= 0
}

func (r *Result) evidence(format string, args ...any) {
	r.Evidence = append(r.Evidence, fmt.Sprintf(format, args...))
}

// Run runs one row: installs its plan, runs an execution of Options.Targets targets, lets
// its builds end and its events land with the faults still on, measures, and removes the
// plan. An error means the row could not be run or read, not a broken promise.
func (r *Runner) Run(ctx context.Context, row Row) (Result, error) {
	res := Result{Row: row, Targets: r.opts.Targets, LeftRunning: -1, TaskErrors: map[string]int{}}
	plan := row.Plan
	plan.Seed = r.opts.Seed ^ int64(nameHash(row.Name))
	if err := r.inj.Set(plan); err != nil {
		return res, err
	}
	defer func() { _ = r.inj.Set(faults.Plan{}) }()
	r.runs++
	name := fmt.Sprintf("faults-%s-%d", row.Name, r.runs)
	began := time.Now()
	var err error
	if row.Abort {
		err = r.runAbort(ctx, name, &res)
	} else {
		err = r.runToEnd(ctx, row, name, &res)
	}
	res.Wall = time.Since(began)
	if res.Counts == nil {
		res.Counts = r.inj.Counts()
	}
	for _, c := range res.Counts {
		res.Injected += c.Injected
	}
	return res, err
}

func nameHash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// input is an execution input of n targets spread over the deployed projects, each
// independent of the others (every failure tolerated), with extra keys on each target.
func (r *Runner) input(n int, extra map[string]any) (string, error) {
	targets := make([]map[string]any, n)
	for i := range targets {
		p := r.places[i%len(r.places)]
		t := map[string]any{
			"arn":              fmt.Sprintf("arn:aws:iam::%s:role/crossbuild-target-role", p.account),
			"region":           p.region,
			"codeBuildProject": p.project,
			"SampleValue1":     fmt.Sprintf("target-%d", i),
		}
		for k, v := range extra {
			t[k] = v
		}
		targets[i] = t
	}
	raw, err := json.Marshal(map[string]any{
		"crossAccountTargetRoleArns": targets,
		"failureTolerancePercentage": 100,
		"maxConcurrency":             0,
	})
	return string(raw), err
}

func (r *Runner) start(ctx context.Context, name, input string) (string, error) {
	out, err := r.sfn.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(r.sm), Name: aws.String(name), Input: aws.String(input),
	})
	if err != nil {
		return "", fmt.Errorf("start execution %s: %w", name, err)
	}
	return aws.ToString(out.ExecutionArn), nil
}

// runToEnd runs an execution to its end and checks every target.
func (r *Runner) runToEnd(ctx context.Context, row Row, name string, res *Result) error {
	// The smallest heartbeat and poll interval, unless the row asks for a longer heartbeat:
	// a lost event costs seconds, not an hour.
	heartbeat := row.HeartbeatSeconds
	if heartbeat == 0 {
		heartbeat = 60
	}
	input, err := r.input(r.opts.Targets, map[string]any{"heartbeatSeconds": heartbeat, "pollIntervalSeconds": 5})
	if err != nil {
		return err
	}
	arn, err := r.start(ctx, name, input)
	if err != nil {
		return err
	}
	desc, err := r.waitEnded(ctx, arn)
	if err != nil {
		return err
	}
	res.Status = string(desc.Status)
	stopped := desc.Status == sfntypes.ExecutionStatusRunning
	if stopped {
		res.evidence("the execution still ran after %s; stopped", r.opts.Timeout)
		if _, err := r.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("stop %s: %w", arn, err)
		}
	}
	// Late events and builds land with the faults still on: a late duplicate is part of
	// the fault.
	r.settle(ctx, arn, res)
	sends := r.inj.TaskSends()
	children, err := r.children(ctx, arn)
	if err != nil {
		return err
	}
	builds := r.builds(arn)
	realOf := r.realTime()
	for i := range r.opts.Targets {
		r.checkTarget(i, children[i], builds[i], sends, realOf, stopped, res)
	}
	for _, c := range children {
		for name, n := range c.taskErrors {
			res.TaskErrors[name] += n
		}
	}
	for i, bs := range builds {
		if i < 0 || i >= r.opts.Targets {
			res.DuplicateBuilds += len(bs)
			res.evidence("%d builds carry map index %d, outside the input", len(bs), i)
		}
	}
	return nil
}

// checkTarget checks one target: one build, a child that ended with that build's outcome
// after at most one accepted completion, and how long after the build the task closed.
// stopped says the row stopped the execution at its timeout.
func (r *Runner) checkTarget(i int, c *child, bs []localcb.BuildInfo, sends map[string]faults.TaskSends, realOf func(time.Time) time.Time, stopped bool, res *Result) {
	if len(bs) > 1 {
		res.DuplicateBuilds += len(bs) - 1
		ids := make([]string, len(bs))
		for j, b := range bs {
			ids[j] = b.ID + " " + b.Status
		}
		res.evidence("target %d: %d builds: %s", i, len(bs), strings.Join(ids, ", "))
	}
	accepted := 0
	if c != nil {
		for _, tok := range c.tokens {
			accepted += sends[tok].Accepted
		}
	}
	if accepted > 1 {
		res.Double++
		res.evidence("target %d: %d completions accepted for one task", i, accepted)
	}
	switch {
	case c == nil:
		res.Lost++
		res.evidence("target %d: no child execution", i)
		return
	case len(bs) == 0:
		res.Lost++
		res.evidence("target %d: no build; the child ended %s %s %s", i, c.status, c.err, clip(c.cause))
		return
	}
	b := bs[len(bs)-1]
	switch c.status {
	case sfntypes.ExecutionStatusSucceeded:
		var out struct{ Status, BuildArn, CompletedBy string }
		if err := json.Unmarshal([]byte(c.output), &out); err != nil {
			res.Lost++
			res.evidence("target %d: output %s: %v", i, clip(c.output), err)
			return
		}
		if b = buildOf(bs, out.BuildArn, b); out.Status != b.Status || out.BuildArn != b.ARN {
			res.Double++
			res.evidence("target %d: result says %s for %s, its build %s ended %s", i, out.Status, out.BuildArn, b.ARN, b.Status)
			return
		}
		if out.CompletedBy == "poll" {
			res.ByPoll++
		}
	case sfntypes.ExecutionStatusFailed:
		status, ok := strings.CutPrefix(c.err, "CodeBuild.")
		if !ok {
			res.Lost++
			res.evidence("target %d: the child failed with %s %s; its build %s ended %s", i, c.err, clip(c.cause), b.ID, b.Status)
			return
		}
		// The child's cause is its failure result; that result's cause is the build's.
		var failed struct{ Cause string }
		var cause struct{ BuildArn, Status string }
		_ = json.Unmarshal([]byte(c.cause), &failed)
		_ = json.Unmarshal([]byte(failed.Cause), &cause)
		if b = buildOf(bs, cause.BuildArn, b); status != b.Status || cause.BuildArn != b.ARN {
			res.Double++
			res.evidence("target %d: failed with %s for %s, its build %s ended %s", i, c.err, cause.BuildArn, b.ARN, b.Status)
			return
		}
		if c.pollClosed {
			res.ByPoll++
		}
	case sfntypes.ExecutionStatusAborted:
		res.Lost++
		if stopped {
			res.evidence("target %d: its task still waited %s after the start, when the execution was stopped; its build %s had ended %s", i, r.opts.Timeout, b.ID, b.Status)
		} else {
			res.evidence("target %d: the child was aborted; its build %s ended %s", i, b.ID, b.Status)
		}
		return
	default:
		res.Lost++
		res.evidence("target %d: the child ended %s; its build %s ended %s", i, c.status, b.ID, b.Status)
		return
	}
	if d := realOf(c.stopped).Sub(b.End); d > res.WorstDelay {
		res.WorstDelay = d
	}
}

// buildOf returns the build with the ARN, or def.
func buildOf(bs []localcb.BuildInfo, arn string, def localcb.BuildInfo) localcb.BuildInfo {
	for _, b := range bs {
		if b.ARN == arn {
			return b
		}
	}
	return def
}

// runAbort starts an execution of builds that sleep, stops it once every build runs and
// every task waits, and counts what is still running AbortWait later.
func (r *Runner) runAbort(ctx context.Context, name string, res *Result) error {
	// Longer than the whole row: a build that ended on its own was not stopped.
	input, err := r.input(r.opts.Targets, map[string]any{sleepVariable: 120})
	if err != nil {
		return err
	}
	arn, err := r.start(ctx, name, input)
	if err != nil {
		return err
	}
	err = poll(ctx, r.opts.Timeout, func() (bool, error) {
		running := 0
		for _, bs := range r.builds(arn) {
			if len(bs) > 0 && !bs[0].Complete {
				running++
			}
		}
		if running < r.opts.Targets {
			return false, nil
		}
		children, err := r.children(ctx, arn)
		if err != nil {
			return false, err
		}
		waiting := 0
		for _, c := range children {
			if c.submitted {
				waiting++
			}
		}
		return waiting == r.opts.Targets, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for every build to run and every task to wait: %w", err)
	}
	if _, err := r.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn),
		Error: aws.String("FaultMatrix.Abort"), Cause: aws.String("stopped mid-build")}); err != nil {
		return fmt.Errorf("stop %s: %w", arn, err)
	}
	stopped := time.Now()
	// Done early once every build has ended and every record is closed; what is still
	// open at AbortWait counts.
	settled := func() (bool, error) {
		for _, bs := range r.builds(arn) {
			for _, b := range bs {
				if !b.Complete {
					return false, nil
				}
				state, err := r.recordState(ctx, b.ARN)
				if err != nil || !closed(state) {
					return false, err
				}
			}
		}
		return true, nil
	}
	if err := poll(ctx, r.opts.AbortWait, settled); err != nil && !errors.Is(err, errNotDone) {
		return err
	}
	res.LeftRunning = 0
	var left []localcb.BuildInfo
	for i, bs := range r.builds(arn) {
		for _, b := range bs {
			if b.Complete && b.End.Sub(stopped) > res.WorstDelay {
				res.WorstDelay = b.End.Sub(stopped)
			}
			if !b.Complete {
				res.LeftRunning++
				left = append(left, b)
				res.evidence("target %d: build %s still running %s after the stop", i, b.ID, r.opts.AbortWait)
			}
		}
		if len(bs) > 1 {
			res.DuplicateBuilds += len(bs) - 1
			res.evidence("target %d: %d builds", i, len(bs))
		}
		for _, b := range bs {
			state, err := r.recordState(ctx, b.ARN)
			if err != nil {
				return err
			}
			if !closed(state) {
				res.Lost++
				res.evidence("target %d: the record of build %s is %q %s after the stop, not closed", i, b.ID, state, time.Since(stopped).Round(time.Millisecond))
			}
		}
	}
	desc, err := r.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("describe %s: %w", arn, err)
	}
	res.Status = string(desc.Status)
	for tok, s := range r.inj.TaskSends() {
		if s.Accepted > 1 {
			res.Double++
			res.evidence("%d completions accepted for the task of token %.12s…", s.Accepted, tok)
		}
	}
	// Stop what the canceller left, so the next row starts on a quiet world: with the
	// faults off, which are counted by now.
	res.Counts = r.inj.Counts()
	if err := r.inj.Set(faults.Plan{}); err != nil {
		return err
	}
	for _, b := range left {
		client := codebuild.NewFromConfig(r.w.Operator(b.Account, b.Region))
		if _, err := client.StopBuild(ctx, &codebuild.StopBuildInput{Id: aws.String(b.ID)}); err != nil {
			return fmt.Errorf("stop build %s left running: %w", b.ID, err)
		}
	}
	r.settle(ctx, arn, res)
	return nil
}

// waitEnded polls the execution until it ends or Options.Timeout passes.
func (r *Runner) waitEnded(ctx context.Context, arn string) (*sfn.DescribeExecutionOutput, error) {
	var desc *sfn.DescribeExecutionOutput
	err := poll(ctx, r.opts.Timeout, func() (bool, error) {
		var err error
		desc, err = r.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return false, fmt.Errorf("describe %s: %w", arn, err)
		}
		return desc.Status != sfntypes.ExecutionStatusRunning, nil
	})
	if errors.Is(err, errNotDone) {
		return desc, nil
	}
	return desc, err
}

// settleTimeout bounds the wait for builds to end and events to land.
const settleTimeout = 30 * time.Second

// settle waits until every build of the execution has ended and EventBridge has nothing
// in flight. What does not settle in time is evidence, not an error.
func (r *Runner) settle(ctx context.Context, arn string, res *Result) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	for _, bs := range r.builds(arn) {
		for _, b := range bs {
			if _, err := r.w.CodeBuild.Wait(ctx, b.Account, b.Region, b.ID); err != nil {
				res.evidence("build %s did not end: %v", b.ID, err)
			}
		}
	}
	if err := r.w.Events.Idle(ctx); err != nil {
		res.evidence("events still in flight: %v", err)
	}
}

// builds returns the execution's builds by map index, in start order, from the
// correlation variables of every build CodeBuild knows. An index that does not parse is -1.
func (r *Runner) builds(executionARN string) map[int][]localcb.BuildInfo {
	out := map[int][]localcb.BuildInfo{}
	for _, b := range r.w.CodeBuild.Builds() {
		if env(b, envExecution) != executionARN {
			continue
		}
		i, err := strconv.Atoi(env(b, envMapIndex))
		if err != nil {
			i = -1
		}
		out[i] = append(out[i], b)
	}
	for _, bs := range out {
		sort.Slice(bs, func(a, b int) bool { return bs[a].Start.Before(bs[b].Start) })
	}
	return out
}

func env(b localcb.BuildInfo, name string) string {
	for _, e := range b.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// closed reports whether a record state is final for an aborted execution's build.
func closed(state string) bool { return state == "STOPPED" || state == "COMPLETED" }

// recordState reads the state of a build's token record ("" when there is none).
func (r *Runner) recordState(ctx context.Context, buildARN string) (string, error) {
	out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.table), ConsistentRead: aws.Bool(true),
		Key: map[string]dbtypes.AttributeValue{"buildArn": &dbtypes.AttributeValueMemberS{Value: buildARN}},
	})
	if err != nil {
		return "", fmt.Errorf("record of %s: %w", buildARN, err)
	}
	if s, ok := out.Item["state"].(*dbtypes.AttributeValueMemberS); ok {
		return s.Value, nil
	}
	return "", nil
}

// realTime converts the state machine's history times, which run TimeScale times faster
// than the wall clock, to wall-clock times.
func (r *Runner) realTime() func(time.Time) time.Time {
	scaledNow, now := r.w.Engine.Clock().Now(), time.Now()
	return func(t time.Time) time.Time {
		return now.Add(-time.Duration(float64(scaledNow.Sub(t)) / TimeScale))
	}
}

func clip(s string) string {
	const n = 240
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var errNotDone = errors.New("not done in time")

// poll calls done every 100 ms until it reports true, fails, ctx ends or limit passes.
func poll(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errNotDone, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
