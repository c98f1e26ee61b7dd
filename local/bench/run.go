package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	localcb "github.com/crossbuild/crossbuild/local/codebuild"
	"github.com/crossbuild/crossbuild/local/world"
)

// Mode is one way of learning that a build ended.
type Mode string

// The modes measured side by side.
const (
	Event    Mode = "event"    // crossbuild, completion by CodeBuild's events (the default)
	Poll     Mode = "poll"     // crossbuild, "completion": "poll"
	Fallback Mode = "fallback" // crossbuild, event completion with every CodeBuild event dropped
	Original Mode = "original" // the model of the original pattern
)

// Modes lists every mode in the order the report shows them.
var Modes = []Mode{Event, Poll, Fallback, Original}

// HistoryLimit is Step Functions' quota of events in one execution's history.
const HistoryLimit = 25_000

// MaxTargets is the most targets crossbuild's planner accepts in one execution.
const MaxTargets = 10_000

// Case is one measured cell.
type Case struct {
	Mode        Mode
	Targets     int
	BuildLength time.Duration // on the state machine's clock
	// HeartbeatSeconds is the targets' heartbeatSeconds (0: crossbuild's default, 3600):
	// how long a task waits without any event before it falls back to polling.
	HeartbeatSeconds int
}

// Result is what one run of a Case measured.
type Result struct {
	Case
	Status string
	// Latency per target, seconds: from the build's end to the task closing with its
	// outcome, with the time spent in Waits and heartbeat timeouts taken at the state
	// machine's clock (what it would be on AWS) and everything else at the wall clock.
	Latency []float64
	// Overhead per target, milliseconds, event-completed targets only: from the start of
	// the callback invocation that carried the terminal event to Step Functions accepting
	// SendTaskSuccess.
	Overhead []float64
	// Wall is the run's wall time; Span the execution's duration at the state machine's
	// clock with the wall-clock work taken at wall-clock time, as Latency.
	Wall, Span     time.Duration
	MeasuredLength time.Duration // the builds' median measured length, at the state machine's clock
	Events         int           // history events, the execution and its children
	Transitions    int           // states entered, the execution and its children
	Polls          int           // poll tasks entered
	Invocations    map[string]int
	BilledMs       map[string]float64 // per function
	GBSeconds      float64
	DDBWrites      int64
	DDBReads       int64
	BuildEvents    int64 // CodeBuild events delivered to the callback (cross-account events)

	// Background counts the scheduled reconciler's invocations during the run.
	Background int
	gbs        map[string]float64 // GB-seconds per function
}

// PerTarget divides n by the target count.
func (r Result) PerTarget(n float64) float64 { return n / float64(r.Targets) }

// TotalInvocations sums the invocations of every function.
func (r Result) TotalInvocations() int {
	n := 0
	for _, v := range r.Invocations {
		n += v
	}
	return n
}

// TotalBilledMs sums the billed milliseconds of every function.
func (r Result) TotalBilledMs() float64 {
	n := 0.0
	for _, v := range r.BilledMs {
		n += v
	}
	return n
}

// MaxTargetsPerExecution is the largest target count one execution holds: for the
// original, the 25,000-event history divided by the measured events per target; for
// crossbuild, whose targets each have a child execution and history of their own, the
// planner's limit (a child's history is far below the quota: Events per target).
func (r Result) MaxTargetsPerExecution() int {
	if r.Mode != Original {
		return MaxTargets
	}
	return int(math.Floor(HistoryLimit / r.PerTarget(float64(r.Events))))
}

// Runner runs cases, one after the other, in one world.
type Runner struct {
	w        *world.World
	probe    *Probe
	client   *sfn.Client
	sm, orig string
	places   []place
	logDir   string
	runs     int
}

type place struct{ account, region, project string }

// NewRunner deploys the original's model next to crossbuild in w (whose options came
// through Wire with probe) and prepares to run cases. proxy is the proxy's binary
// (BuildProxy); logDir the world's LogDir.
func NewRunner(ctx context.Context, w *world.World, probe *Probe, proxy, logDir string) (*Runner, error) {
	r := &Runner{w: w, probe: probe, logDir: logDir}
	var ok bool
	if r.sm, ok = w.StateMachines["crossbuild"]; !ok {
		return nil, errors.New("no crossbuild state machine in the assembly")
	}
	parts := strings.Split(r.sm, ":")
	r.client = sfn.NewFromConfig(w.Operator(parts[4], parts[3]))
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::CodeBuild::Project") {
			name, err := s.PhysicalName(id)
			if err != nil {
				return nil, err
			}
			r.places = append(r.places, place{s.Account, s.Region, name})
		}
	}
	if len(r.places) == 0 {
		return nil, errors.New("no CodeBuild project deployed")
	}
	var err error
	if r.orig, err = deployOriginal(ctx, w, proxy, 1); err != nil {
		return nil, err
	}
	return r, nil
}

// input is the execution input of a case: the original walkthrough's target shape for
// every mode, spread over the deployed projects.
func (r *Runner) input(c Case) (string, error) {
	base := c.BuildLength.Seconds()/TimeScale - 10*PhaseDelay.Seconds()
	targets := make([]map[string]any, c.Targets)
	for i := range targets {
		p := r.places[i%len(r.places)]
		t := map[string]any{
			"arn":              fmt.Sprintf("arn:aws:iam::%s:role/crossbuild-target-role", p.account),
			"region":           p.region,
			"codeBuildProject": p.project,
			"SampleValue1":     fmt.Sprintf("target-%d", i),
			"SampleValue2":     fmt.Sprintf("sleep=%.3f", max(base+jitter(i), 0)),
		}
		switch c.Mode {
		case Poll:
			t["completion"] = "poll"
		case Fallback, Event:
			if c.HeartbeatSeconds > 0 {
				t["heartbeatSeconds"] = c.HeartbeatSeconds
			}
		}
		targets[i] = t
	}
	in := map[string]any{"crossAccountTargetRoleArns": targets}
	if c.Mode != Original {
		in["maxConcurrency"] = 0
		in["failureTolerancePercentage"] = 100
	}
	raw, err := json.Marshal(in)
	return string(raw), err
}

// Run runs one case to its end and measures it.
func (r *Runner) Run(ctx context.Context, c Case, timeout time.Duration) (Result, error) {
	res := Result{Case: c, Invocations: map[string]int{}, BilledMs: map[string]float64{}, gbs: map[string]float64{}}
	input, err := r.input(c)
	if err != nil {
		return res, err
	}
	r.runs++
	logsBefore, err := logSizes(r.logDir)
	if err != nil {
		return res, err
	}
	before := r.probe.Counts()
	known := r.knownBuilds()
	// The original has no event rules: its builds' events reach nothing.
	r.probe.Drop(c.Mode == Fallback || c.Mode == Original)
	defer r.probe.Drop(false)
	sm := r.sm
	if c.Mode == Original {
		sm = r.orig
	}
	name := fmt.Sprintf("bench-%s-%d-%d-%d", c.Mode, c.Targets, int(c.BuildLength.Minutes()), r.runs)
	began := time.Now()
	out, err := r.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		return res, fmt.Errorf("start %s: %w", name, err)
	}
	arn := aws.ToString(out.ExecutionArn)
	desc, err := r.waitEnded(ctx, arn, timeout)
	if err != nil {
		return res, err
	}
	res.Wall = time.Since(began)
	res.Status = string(desc.Status)
	// Every callback invocation and build ends before the counters are read.
	settle, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	builds := r.builds(arn, c.Mode == Original, known)
	for _, b := range builds {
		_, _ = r.w.CodeBuild.Wait(settle, b.Account, b.Region, b.ID)
	}
	_ = r.w.Events.Idle(settle)
	r.probe.Drop(false)

	histories, err := r.histories(ctx, arn, c.Mode == Original)
	if err != nil {
		return res, err
	}
	scaled := r.scaledTime()
	var lengths []float64
	for _, b := range builds {
		lengths = append(lengths, b.End.Sub(b.Start).Seconds()*TimeScale)
	}
	sort.Float64s(lengths)
	if len(lengths) > 0 {
		res.MeasuredLength = time.Duration(lengths[len(lengths)/2] * float64(time.Second))
	}
	for _, h := range histories {
		res.Events += len(h.events)
		for _, e := range h.events {
			if strings.HasSuffix(string(e.Type), "StateEntered") {
				res.Transitions++
				if name := aws.ToString(e.StateEnteredEventDetails.Name); name == "Read status" || name == "Poll build" {
					res.Polls++
				}
			}
		}
	}
	for _, b := range builds {
		closed, timers, ok := closeOf(histories, b, c.Mode == Original)
		if !ok {
			continue
		}
		res.Latency = append(res.Latency, awsSeconds(scaled(b.End), closed, timers))
		if d, ok := r.probe.Overhead(b.ARN); ok && c.Mode != Original {
			res.Overhead = append(res.Overhead, float64(d.Microseconds())/1000)
		}
	}
	if len(histories) > 0 {
		root := histories[0]
		start, end := root.events[0].Timestamp, root.events[len(root.events)-1].Timestamp
		// Builds run on the scaled clock too: a build of L minutes lasts L/TimeScale.
		timers := allTimers(histories)
		for _, b := range builds {
			timers = append(timers, interval{scaled(b.Start), scaled(b.End)})
		}
		res.Span = time.Duration(awsSeconds(aws.ToTime(start), aws.ToTime(end), timers) * float64(time.Second))
	}
	after := r.probe.Counts()
	res.DDBWrites, res.DDBReads, res.BuildEvents = after.Writes-before.Writes, after.Reads-before.Reads, after.Events-before.Events
	if err := readReports(r.logDir, logsBefore, &res); err != nil {
		return res, err
	}
	// The reconciler runs on a schedule whatever the builds: a fixed cost per hour, not per
	// build (docs/performance.md), kept apart.
	for fn, n := range res.Invocations {
		if strings.Contains(fn, "reconciler") {
			res.Background += n
			res.GBSeconds -= res.gbs[fn]
			delete(res.Invocations, fn)
			delete(res.BilledMs, fn)
		}
	}
	if c.Mode == Original {
		// Only the proxy belongs to the original; crossbuild's scheduled functions may run meanwhile.
		for fn := range res.Invocations {
			if fn != proxyName {
				delete(res.Invocations, fn)
				res.GBSeconds -= res.gbs[fn]
				delete(res.BilledMs, fn)
			}
		}
	}
	return res, nil
}

func (r *Runner) waitEnded(ctx context.Context, arn string, timeout time.Duration) (*sfn.DescribeExecutionOutput, error) {
	deadline := time.Now().Add(timeout)
	for {
		desc, err := r.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", arn, err)
		}
		if desc.Status != sfntypes.ExecutionStatusRunning {
			return desc, nil
		}
		if time.Now().After(deadline) {
			_, _ = r.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)})
			return nil, fmt.Errorf("%s still running after %s; stopped", arn, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// builds returns the run's builds: crossbuild's carry the execution's ARN; the original's
// carry nothing of it, so they are the builds without one that were not there before.
func (r *Runner) builds(arn string, original bool, known map[string]bool) []localcb.BuildInfo {
	var out []localcb.BuildInfo
	for _, b := range r.w.CodeBuild.Builds() {
		exec := ""
		for _, e := range b.Env {
			if e.Name == "CROSSBUILD_EXECUTION_ARN" {
				exec = e.Value
			}
		}
		if (original && exec == "" && !known[b.ID]) || (!original && exec == arn) {
			out = append(out, b)
		}
	}
	return out
}

// knownBuilds returns the ids of every build so far.
func (r *Runner) knownBuilds() map[string]bool {
	out := map[string]bool{}
	for _, b := range r.w.CodeBuild.Builds() {
		out[b.ID] = true
	}
	return out
}

// history is one execution's events.
type history struct {
	arn    string
	events []sfntypes.HistoryEvent
}

// histories reads the execution's history and, for crossbuild, every child's.
func (r *Runner) histories(ctx context.Context, arn string, inline bool) ([]history, error) {
	root, err := r.history(ctx, arn)
	if err != nil {
		return nil, err
	}
	out := []history{root}
	if inline {
		return out, nil
	}
	runs, err := r.client.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("map runs of %s: %w", arn, err)
	}
	for _, run := range runs.MapRuns {
		p := sfn.NewListExecutionsPaginator(r.client, &sfn.ListExecutionsInput{MapRunArn: run.MapRunArn, MaxResults: 1000})
		for pages := 0; p.HasMorePages() && pages < 100; pages++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("children of %s: %w", arn, err)
			}
			for _, x := range page.Executions {
				h, err := r.history(ctx, aws.ToString(x.ExecutionArn))
				if err != nil {
					return nil, err
				}
				out = append(out, h)
			}
		}
	}
	return out, nil
}

func (r *Runner) history(ctx context.Context, arn string) (history, error) {
	h := history{arn: arn}
	p := sfn.NewGetExecutionHistoryPaginator(r.client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for pages := 0; p.HasMorePages() && pages < 100; pages++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			return h, fmt.Errorf("history of %s: %w", arn, err)
		}
		h.events = append(h.events, page.Events...)
	}
	if len(h.events) == 0 {
		return h, fmt.Errorf("history of %s is empty", arn)
	}
	return h, nil
}

// scaledTime converts a wall-clock time to the state machine's clock.
func (r *Runner) scaledTime() func(time.Time) time.Time {
	scaledNow, now := r.w.Engine.Clock().Now(), time.Now()
	return func(t time.Time) time.Time {
		return scaledNow.Add(-time.Duration(float64(now.Sub(t)) * TimeScale))
	}
}

// interval is a span of the state machine's clock.
type interval struct{ from, to time.Time }

// closeOf finds when a build's task closed with its outcome, and the timer intervals
// (Waits, heartbeat timeouts) of the history it closed in.
func closeOf(hs []history, b localcb.BuildInfo, inline bool) (time.Time, []interval, bool) {
	for _, h := range hs[min(1, len(hs)-1):] {
		if !inline && !mentions(h, b.ARN) {
			continue
		}
		timers := timersOf(h)
		for _, e := range h.events {
			if e.Type != sfntypes.HistoryEventTypeTaskSucceeded || e.TaskSucceededEventDetails == nil {
				continue
			}
			outText := aws.ToString(e.TaskSucceededEventDetails.Output)
			if !strings.Contains(outText, b.ID) {
				continue
			}
			if closesTask(outText) {
				return aws.ToTime(e.Timestamp), timers, true
			}
		}
		if inline {
			return time.Time{}, nil, false
		}
	}
	return time.Time{}, nil, false
}

// closesTask reports whether a task's output carries a terminal build status anywhere
// (the original's CodeBuildJobStatus, crossbuild's result or poll answer).
func closesTask(out string) bool {
	var v any
	if json.Unmarshal([]byte(out), &v) != nil {
		return false
	}
	return terminalIn(v, 0)
}

func terminalIn(v any, depth int) bool {
	if depth > 8 {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "status" || k == "CodeBuildJobStatus" || k == "buildStatus") {
				switch s {
				case "SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT":
					return true
				}
			}
			if terminalIn(e, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if terminalIn(e, depth+1) {
				return true
			}
		}
	}
	return false
}

func mentions(h history, id string) bool {
	for _, e := range h.events {
		if e.TaskSucceededEventDetails != nil && strings.Contains(aws.ToString(e.TaskSucceededEventDetails.Output), id) {
			return true
		}
	}
	return false
}

// timersOf returns the spans a history spent waiting on the state machine's clock: each
// Wait state, and each task from its start to a heartbeat or task timeout.
func timersOf(h history) []interval {
	var out []interval
	var waitFrom, taskFrom time.Time
	for _, e := range h.events {
		t := aws.ToTime(e.Timestamp)
		switch e.Type {
		case sfntypes.HistoryEventTypeWaitStateEntered:
			waitFrom = t
		case sfntypes.HistoryEventTypeWaitStateExited:
			if !waitFrom.IsZero() {
				out = append(out, interval{waitFrom, t})
			}
		case sfntypes.HistoryEventTypeTaskStarted:
			taskFrom = t
		case sfntypes.HistoryEventTypeTaskTimedOut:
			if !taskFrom.IsZero() {
				out = append(out, interval{taskFrom, t})
			}
		}
	}
	return out
}

func allTimers(hs []history) []interval {
	var out []interval
	for _, h := range hs {
		out = append(out, timersOf(h)...)
	}
	return mergeIntervals(out)
}

func mergeIntervals(in []interval) []interval {
	sort.Slice(in, func(a, b int) bool { return in[a].from.Before(in[b].from) })
	var out []interval
	for _, iv := range in {
		if n := len(out); n > 0 && !iv.from.After(out[n-1].to) {
			if iv.to.After(out[n-1].to) {
				out[n-1].to = iv.to
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// awsSeconds converts a span of the state machine's clock to seconds as they would pass
// on AWS: the part spent in timers counts as it reads, the rest was wall-clock work
// magnified TimeScale times by the clock and is divided back.
func awsSeconds(from, to time.Time, timers []interval) float64 {
	total := to.Sub(from).Seconds()
	if total <= 0 {
		return 0
	}
	timed := 0.0
	for _, iv := range mergeIntervals(append([]interval(nil), timers...)) {
		a, b := iv.from, iv.to
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			timed += b.Sub(a).Seconds()
		}
	}
	return timed + (total-timed)/TimeScale
}

// Lambda's REPORT lines, which the emulator writes per invocation into the function's log.
var reportRE = regexp.MustCompile(`^REPORT RequestId: \S+.*\tBilled Duration: ([0-9.]+) ms\tMemory Size: ([0-9]+) MB`)

// A function log is lambda-<name>-<account>-<region>.log.
var logNameRE = regexp.MustCompile(`^lambda-(.+)-[0-9]{12}-`)

// logSizes returns the size of every function log in dir.
func logSizes(dir string) (map[string]int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "lambda-*.log"))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, f := range files {
		if info, err := os.Stat(f); err == nil {
			out[f] = info.Size()
		}
	}
	return out, nil
}

// readReports counts, per function, the REPORT lines written since before.
func readReports(dir string, before map[string]int64, res *Result) error {
	files, err := filepath.Glob(filepath.Join(dir, "lambda-*.log"))
	if err != nil {
		return err
	}
	for _, path := range files {
		fn := filepath.Base(path)
		if m := logNameRE.FindStringSubmatch(fn); m != nil {
			fn = m[1]
		}
		if err := func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.Seek(before[path], io.SeekStart); err != nil {
				return err
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				m := reportRE.FindStringSubmatch(sc.Text())
				if m == nil {
					continue
				}
				ms, _ := strconv.ParseFloat(m[1], 64)
				mb, _ := strconv.ParseFloat(m[2], 64)
				res.Invocations[fn]++
				res.BilledMs[fn] += ms
				res.GBSeconds += ms / 1000 * mb / 1024
				res.gbs[fn] += ms / 1000 * mb / 1024
			}
			return sc.Err()
		}(); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	return nil
}

// jitter lengthens target i's build by up to one 20-second poll interval (wall-clock
// seconds), spread evenly over the targets: builds whose lengths are exact multiples of
// the original's 20 s Wait would all end just after a poll and flatter or wrong it.
func jitter(i int) float64 {
	_, frac := math.Modf(0.5 + float64(i)*0.6180339887)
	return frac * 20 / TimeScale
}
