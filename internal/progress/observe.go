// Package progress reads how far an execution has come, target by target, and shows it:
// a live table (one line per target with its status, phase, elapsed time and what
// completed it), a progress bar, counts when there are more targets than lines.
//
// The truth comes from where it is cheapest. The execution and its Map Run
// (DescribeExecution, ListMapRuns, DescribeMapRun) give the status and the item counts of
// any run in three calls. For runs small enough to list, the Map Run's child executions
// (ListExecutions, and DescribeExecution once per child for its Map index and once more
// when it ends, for its result) give each target's status, and the token table (one Query
// of the execution index) gives each build's phase and who completed it; the items file
// names targets not started yet.
package progress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/crossbuild/crossbuild/internal/plan"
	"github.com/crossbuild/crossbuild/internal/summary"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// StepFunctions reads the execution, its Map Run and the Map Run's child executions.
type StepFunctions interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	ListMapRuns(ctx context.Context, in *sfn.ListMapRunsInput, optFns ...func(*sfn.Options)) (*sfn.ListMapRunsOutput, error)
	DescribeMapRun(ctx context.Context, in *sfn.DescribeMapRunInput, optFns ...func(*sfn.Options)) (*sfn.DescribeMapRunOutput, error)
	ListExecutions(ctx context.Context, in *sfn.ListExecutionsInput, optFns ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
}

// Records lists the token records and intents of an execution (tokenstore.Store).
type Records interface {
	ListExecution(ctx context.Context, executionARN string) ([]tokenstore.Record, []tokenstore.Intent, error)
}

// Items reads the execution's items file from the runs bucket.
type Items interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Bounds of one look: the child executions listed, and described, per refresh.
const (
	maxChildPages    = 20 // of 1000 children
	maxDescribesOnce = 200
)

// Phases of a target, as the table shows them.
const (
	PhaseWaiting    = "waiting"    // no child execution yet: the Map Run has not reached it
	PhaseStarting   = "starting"   // the starter is starting the build
	PhaseBuilding   = "building"   // the build runs; its events will complete it
	PhasePolling    = "polling"    // the build runs; the poller completes it
	PhaseCompleting = "completing" // the build ended; its outcome is being sent
	PhaseCompleted  = "completed"  // the outcome was sent; the child execution is ending
	PhaseStopped    = "stopped"    // the execution ended and the canceller closed the record
	PhaseCancelled  = "cancelled"  // the execution ended before the build started
	PhaseDone       = "done"       // the child execution ended
	PhaseNotRun     = "not run"    // the execution ended before the target ran
)

// Snapshot is one look at an execution.
type Snapshot struct {
	ExecutionARN, Name, Status string
	Start, Stop                time.Time
	Error, Cause               string
	Output                     string
	MapRunARN                  string
	// Counts are the Map Run's item counts; Total is 0 until the Map Run starts.
	Counts Counts
	// Targets lists every target when the run is small enough (Observer.Detail); nil
	// otherwise, and before the Map Run starts.
	Targets []Target
	// Note says what could not be read this time (shown, not fatal).
	Note string
}

// Ended reports whether the execution ended.
func (s Snapshot) Ended() bool {
	return s.Status != "" && s.Status != string(sfntypes.ExecutionStatusRunning)
}

// Counts are item counts of a Map Run.
type Counts struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	TimedOut  int `json:"timedOut"`
	Aborted   int `json:"aborted"`
}

// Done is the number of items that ended.
func (c Counts) Done() int { return c.Succeeded + c.Failed + c.TimedOut + c.Aborted }

// Target is one target's progress.
type Target struct {
	Index                    int
	Account, Region, Project string
	Status                   string // PENDING, RUNNING, then the result's status (SUCCEEDED, FAILED, FAULT, ...), or NOT_RUN
	Phase                    string
	Start, End               time.Time
	CompletedBy              string
	BuildID                  string
	Error                    string
}

// Elapsed is how long the target has run, up to now while it runs.
func (t Target) Elapsed(now time.Time) time.Duration {
	if t.Start.IsZero() {
		return 0
	}
	end := t.End
	if end.IsZero() {
		end = now
	}
	return end.Sub(t.Start)
}

type child struct {
	index   int // -1 until described
	status  string
	start   time.Time
	stop    time.Time
	final   bool // described after it ended: its result is known
	result  childResult
	account string
	region  string
	project string
}

type childResult struct {
	Status      string `json:"status"`
	CompletedBy string `json:"completedBy"`
	BuildID     string `json:"buildId"`
	Error       string `json:"error"`
}

type itemTarget struct{ account, region, project string }

// Observer looks at one execution again and again, remembering what does not change.
type Observer struct {
	SFN          StepFunctions
	Records      Records // nil: no phases from the token table
	Items        Items   // nil: targets are named once their child starts
	Bucket       string  // the runs bucket, for Items
	ExecutionARN string
	// Detail is the most targets listed one by one; a larger run is counted only.
	Detail int
	Now    func() time.Time

	mapRun    string
	children  map[string]*child
	items     []itemTarget
	itemsRead bool
	itemsNote string // why the items could not be read, shown at every look
}

// Observe takes one look.
func (o *Observer) Observe(ctx context.Context) (Snapshot, error) {
	if o.children == nil {
		o.children = map[string]*child{}
	}
	x, err := o.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(o.ExecutionARN)})
	if err != nil {
		return Snapshot{}, fmt.Errorf("describe execution %s: %w", o.ExecutionARN, err)
	}
	s := Snapshot{ExecutionARN: o.ExecutionARN, Name: aws.ToString(x.Name), Status: string(x.Status),
		Start: aws.ToTime(x.StartDate), Stop: aws.ToTime(x.StopDate), Error: aws.ToString(x.Error), Cause: aws.ToString(x.Cause),
		Output: aws.ToString(x.Output)}
	if err := o.findMapRun(ctx); err != nil {
		return Snapshot{}, err
	}
	if o.mapRun == "" {
		return s, nil
	}
	s.MapRunARN = o.mapRun
	mr, err := o.SFN.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: aws.String(o.mapRun)})
	if err != nil {
		return Snapshot{}, fmt.Errorf("describe map run %s: %w", o.mapRun, err)
	}
	if c := mr.ItemCounts; c != nil {
		s.Counts = Counts{Total: int(c.Total), Pending: int(c.Pending), Running: int(c.Running), Succeeded: int(c.Succeeded),
			Failed: int(c.Failed), TimedOut: int(c.TimedOut), Aborted: int(c.Aborted)}
	}
	if s.Counts.Total == 0 || s.Counts.Total > o.Detail {
		return s, nil
	}
	var notes []string
	if err := o.readItems(ctx, s.Name, s.Counts.Total); err != nil {
		notes = append(notes, err.Error())
	}
	if err := o.readChildren(ctx); err != nil {
		return Snapshot{}, err
	}
	var recs map[int]tokenstore.Record
	var intents map[int]tokenstore.Intent
	if o.Records != nil {
		if recs, intents, err = o.readRecords(ctx); err != nil {
			notes = append(notes, err.Error())
		}
	}
	s.Targets = o.targets(s, recs, intents)
	s.Note = strings.Join(notes, "; ")
	return s, nil
}

func (o *Observer) findMapRun(ctx context.Context) error {
	if o.mapRun != "" {
		return nil
	}
	out, err := o.SFN.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(o.ExecutionARN)})
	if err != nil {
		return fmt.Errorf("list map runs of %s: %w", o.ExecutionARN, err)
	}
	var newest time.Time
	for _, r := range out.MapRuns {
		if t := aws.ToTime(r.StartDate); o.mapRun == "" || t.After(newest) {
			o.mapRun, newest = aws.ToString(r.MapRunArn), t
		}
	}
	return nil
}

// readItems reads the items file once, for the targets' names before their children start.
func (o *Observer) readItems(ctx context.Context, executionName string, total int) error {
	if o.Items == nil {
		return nil
	}
	if o.itemsRead {
		if o.itemsNote != "" {
			return errors.New(o.itemsNote)
		}
		return nil
	}
	o.itemsRead = true
	key := plan.RunPrefix(executionName) + "/items.json"
	out, err := o.Items.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(key)})
	if err != nil {
		o.itemsNote = fmt.Sprintf("targets named once they start (items s3://%s/%s: %v)", o.Bucket, key, err)
		return errors.New(o.itemsNote)
	}
	defer out.Body.Close()
	items, err := decodeItems(out.Body, total)
	if err != nil {
		o.itemsNote = fmt.Sprintf("targets named once they start (items s3://%s/%s: %v)", o.Bucket, key, err)
		return errors.New(o.itemsNote)
	}
	o.items = items
	return nil
}

// decodeItems reads at most limit items of an items file (a JSON array).
func decodeItems(r io.Reader, limit int) ([]itemTarget, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("not a JSON array (%v)", err)
	}
	var out []itemTarget
	for dec.More() && len(out) < limit {
		var it plan.Item
		if err := dec.Decode(&it); err != nil {
			return nil, err
		}
		arn := jsonString(it.Settings.ARN)
		out = append(out, itemTarget{account: accountOf(arn), region: jsonString(it.Settings.Region), project: jsonString(it.Settings.CodeBuildProject)})
	}
	return out, nil
}

// readChildren lists the Map Run's children and describes those not known yet and those
// that ended since they were described.
func (o *Observer) readChildren(ctx context.Context) error {
	in := &sfn.ListExecutionsInput{MapRunArn: aws.String(o.mapRun), MaxResults: 1000}
	described := 0
	for range maxChildPages {
		out, err := o.SFN.ListExecutions(ctx, in)
		if err != nil {
			return fmt.Errorf("list child executions of %s: %w", o.mapRun, err)
		}
		for _, e := range out.Executions {
			arn := aws.ToString(e.ExecutionArn)
			c := o.children[arn]
			if c == nil {
				c = &child{index: -1}
				o.children[arn] = c
			}
			c.status, c.start, c.stop = string(e.Status), aws.ToTime(e.StartDate), aws.ToTime(e.StopDate)
			ended := e.Status != sfntypes.ExecutionStatusRunning
			if (c.index >= 0 && !ended) || c.final || described >= maxDescribesOnce {
				continue
			}
			described++
			if err := o.describeChild(ctx, arn, c); err != nil {
				return err
			}
		}
		if out.NextToken == nil {
			return nil
		}
		in.NextToken = out.NextToken
	}
	return nil
}

func (o *Observer) describeChild(ctx context.Context, arn string, c *child) error {
	d, err := o.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("describe child execution %s: %w", arn, err)
	}
	in := summary.ParseChildInput(aws.ToString(d.Input))
	if in.MapIndex != nil {
		c.index = *in.MapIndex
	}
	c.account, c.region, c.project = accountOf(in.RoleARN), in.Region, in.CodeBuildProject
	c.status = string(d.Status)
	if d.Status == sfntypes.ExecutionStatusRunning {
		return nil
	}
	c.final, c.stop = true, aws.ToTime(d.StopDate)
	_, raw := summary.TargetResult(string(d.Status), summary.Entry{ExecutionArn: arn, Input: d.Input, Output: d.Output,
		Status: string(d.Status), Error: d.Error, Cause: d.Cause})
	_ = json.Unmarshal(raw, &c.result)
	return nil
}

// readRecords returns the newest record and the intent of each Map index.
func (o *Observer) readRecords(ctx context.Context) (map[int]tokenstore.Record, map[int]tokenstore.Intent, error) {
	recs, intents, err := o.Records.ListExecution(ctx, o.ExecutionARN)
	if err != nil {
		return nil, nil, fmt.Errorf("phases unknown (token table: %v)", err)
	}
	byIndex := map[int]tokenstore.Record{}
	for _, r := range recs {
		if cur, ok := byIndex[r.MapIndex]; !ok || r.CreatedAt.After(cur.CreatedAt) {
			byIndex[r.MapIndex] = r
		}
	}
	intentOf := map[int]tokenstore.Intent{}
	for _, in := range intents {
		intentOf[in.MapIndex] = in
	}
	return byIndex, intentOf, nil
}

func (o *Observer) targets(s Snapshot, recs map[int]tokenstore.Record, intents map[int]tokenstore.Intent) []Target {
	byIndex := map[int]*child{}
	for _, c := range o.children {
		if c.index < 0 {
			continue
		}
		// A redriven item has two children; the newer one counts.
		if cur := byIndex[c.index]; cur == nil || c.start.After(cur.start) {
			byIndex[c.index] = c
		}
	}
	out := make([]Target, s.Counts.Total)
	for i := range out {
		t := Target{Index: i}
		if i < len(o.items) {
			t.Account, t.Region, t.Project = o.items[i].account, o.items[i].region, o.items[i].project
		}
		rec, hasRec := recs[i]
		in, hasIntent := intents[i]
		if hasRec {
			t.Account, t.Region, t.Project, t.BuildID, t.CompletedBy = rec.Account, rec.Region, rec.Project, rec.BuildID, rec.CompletedBy
			t.Start = rec.CreatedAt
		}
		c := byIndex[i]
		switch {
		case c == nil && s.Ended():
			t.Status, t.Phase = "NOT_RUN", PhaseNotRun
		case c == nil:
			t.Status, t.Phase = "PENDING", PhaseWaiting
		default:
			if c.account != "" {
				t.Account, t.Region, t.Project = c.account, c.region, c.project
			}
			t.Start = c.start
			if !c.final {
				t.Status, t.Phase = c.status, phaseOf(rec, hasRec, in, hasIntent)
				break
			}
			t.End, t.Phase = c.stop, PhaseDone
			t.Status = c.status
			if c.result.Status != "" {
				t.Status = c.result.Status
			}
			if c.result.CompletedBy != "" {
				t.CompletedBy = c.result.CompletedBy
			}
			if c.result.BuildID != "" {
				t.BuildID = c.result.BuildID
			}
			if t.Status != "SUCCEEDED" {
				t.Error = c.result.Error
			}
		}
		out[i] = t
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out
}

// phaseOf tells a running target's phase from its record, or its intent before that.
func phaseOf(rec tokenstore.Record, hasRec bool, in tokenstore.Intent, hasIntent bool) string {
	if hasRec {
		switch rec.State {
		case tokenstore.Waiting:
			if rec.Completion == plan.CompletionPoll {
				return PhasePolling
			}
			return PhaseBuilding
		case tokenstore.Claimed, tokenstore.Parked:
			return PhaseCompleting
		case tokenstore.Completed:
			return PhaseCompleted
		case tokenstore.Stopped:
			return PhaseStopped
		}
	}
	if hasIntent && in.Cancelled() && in.BuildARN == "" {
		return PhaseCancelled
	}
	return PhaseStarting
}

func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// accountOf returns the account of an ARN ("" when it is not one).
func accountOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return ""
	}
	return a.AccountID
}
