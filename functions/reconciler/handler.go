package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildstop"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
)

// maxBatch is BatchGetBuilds' limit of build ids per call (CodeBuild API reference).
const maxBatch = 100

// sessionName names the reconciler's sessions in the target roles: one session per role for
// the whole sweep, which spans executions. It is a name IsCrossbuildSession accepts.
var sessionName = assume.SessionName("reconciler")

// CodeBuildAPI is what the reconciler does with builds in a target account.
type CodeBuildAPI interface {
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
	StopBuild(ctx context.Context, in *codebuild.StopBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error)
}

// Roles hands out credentials for target roles.
type Roles interface {
	Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error)
}

// ExecutionsAPI tells whether an execution still runs.
type ExecutionsAPI interface {
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Store is the part of the token store the reconciler uses.
type Store interface {
	ListOpen(ctx context.Context, before time.Time, limit int) ([]tokenstore.Record, error)
	ClaimAs(ctx context.Context, buildARN, owner string, lease time.Duration) (tokenstore.Record, error)
	Release(ctx context.Context, rec tokenstore.Record) error
	Stop(ctx context.Context, buildARN, executionARN string) (tokenstore.Record, error)
}

// Finisher completes a claimed task, as the callback does.
type Finisher interface {
	Finish(ctx context.Context, claimed tokenstore.Record, b outcome.Build, by string) error
}

// InvalidEvent reports a payload that is not a JSON object.
type InvalidEvent struct {
	Reason string
}

func (e *InvalidEvent) Error() string { return "invalid scheduled event: " + e.Reason }

// RunFailed reports a sweep in which records could not be reconciled for a reason a retry
// will not cure (a refused role, a target no longer allowed, a refused API call). It is
// returned so the run counts as an error and the errors alarm shows it; the records are
// left as they were and the next run tries again.
type RunFailed struct {
	Failed int
	Err    error
}

func (e *RunFailed) Error() string {
	return fmt.Sprintf("%d record(s) could not be reconciled: %v", e.Failed, e.Err)
}

func (e *RunFailed) Unwrap() error { return e.Err }

// Summary is what one run did; it is logged and returned.
type Summary struct {
	Listed     int  `json:"listed"`
	Reconciled int  `json:"reconciled"` // completions delivered that had been lost
	Settled    int  `json:"settled"`    // claimed and finished, the task already closed
	Closed     int  `json:"closed"`     // records of ended executions closed STOPPED
	Stopped    int  `json:"stopped"`    // running builds of ended executions stopped
	Running    int  `json:"running"`    // builds still running for a running execution
	NotFound   int  `json:"notFound"`   // builds CodeBuild does not know
	Skipped    int  `json:"skipped"`    // poll mode, freshly claimed, taken by someone else
	Failed     int  `json:"failed"`     // left for the next run after an error
	Truncated  bool `json:"truncated"`  // the limit or the deadline ended the run
}

// Handler sweeps the open token records: it completes the tasks whose builds ended without
// their completion arriving, and closes the records of executions that ended.
type Handler struct {
	Store     Store
	Finisher  Finisher
	SFN       ExecutionsAPI
	Roles     Roles
	CodeBuild func(region string, creds aws.CredentialsProvider) CodeBuildAPI
	Allow     *target.AllowList
	// StateMachineARN is the crossbuild state machine; records name its executions.
	StateMachineARN string
	// After is how long a record must have been open before the sweep looks at it: the
	// callback normally completes it within seconds of the build's end.
	After time.Duration
	// Lease is the claim lease, the callback's: a claim younger than it is someone's work.
	Lease time.Duration
	// Limit bounds the records one run looks at; Concurrency the records handled at once.
	Limit       int
	Concurrency int
	// Margin is the time left before the invocation's deadline at which the run stops
	// taking on records.
	Margin  time.Duration
	Log     *slog.Logger
	Metrics *metrics.Recorder
	Now     func() time.Time
}

// Invoke adapts Handle to the Lambda runtime.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (Summary, error) {
	return h.Handle(ctx, raw)
}

// Handle runs one sweep. The event is EventBridge's scheduled event; any JSON object starts
// a sweep, so an operator may invoke the function by hand with {}.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Summary{}, &InvalidEvent{Reason: err.Error()}
	}
	r := &run{h: h, owner: tokenstore.NewOwnerID(), now: h.Now(), executions: map[string]*execStatus{}}
	r.log = h.Log.With("eventId", ev.ID, "claimOwner", r.owner)
	if dl, ok := ctx.Deadline(); ok {
		r.deadline = dl.Add(-h.Margin)
	}
	before := r.now.Add(-h.After)
	recs, err := h.Store.ListOpen(ctx, before, h.Limit)
	if err != nil {
		return Summary{}, &failure.TransientError{Op: "list open token records", Err: err}
	}
	r.sum.Listed = len(recs)
	if len(recs) == h.Limit {
		// There may be more: the next run continues.
		r.sum.Truncated = true
	}
	r.sweep(ctx, recs)
	if r.sum.Truncated {
		h.Metrics.Count(metrics.ReconcileTruncated)
	}
	r.log.Info("sweep done", "openBefore", before.UTC().Format(time.RFC3339), "summary", r.sum)
	if len(r.permanent) > 0 {
		return r.sum, &RunFailed{Failed: len(r.permanent), Err: errors.Join(r.permanent...)}
	}
	return r.sum, nil
}

// run is the state of one sweep.
type run struct {
	h        *Handler
	owner    string
	now      time.Time
	deadline time.Time // zero: none
	log      *slog.Logger

	mu         sync.Mutex
	sum        Summary
	permanent  []error
	executions map[string]*execStatus // DescribeExecution answers, by execution ARN
}

// execStatus is what Step Functions said about one execution.
type execStatus struct {
	mu     sync.Mutex
	known  bool
	status sfntypes.ExecutionStatus
	err    error
}

// item is one record to act on, with what the sweep learned about its build.
type item struct {
	rec   tokenstore.Record
	build outcome.Build // set when the build ended
	ended bool
	cb    CodeBuildAPI // the target's CodeBuild client, when CodeBuild was asked
	log   *slog.Logger
}

func (r *run) count(f func(*Summary)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.sum)
}

// fail records a record left for the next run. Failures a retry may cure (throttling,
// outages) are only counted; the others also fail the run.
func (r *run) fail(log *slog.Logger, what string, err error) {
	r.h.Metrics.Count(metrics.ReconcileFailed)
	log.Error(what, logging.KeyError, err.Error())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Failed++
	var te *failure.TransientError
	if !errors.As(err, &te) && !awserr.IsRetryable(err) {
		r.permanent = append(r.permanent, fmt.Errorf("%s: %w", what, err))
	}
}

// outOfTime reports whether the run must stop taking on records.
func (r *run) outOfTime() bool {
	if !r.deadline.IsZero() && time.Now().After(r.deadline) {
		r.count(func(s *Summary) { s.Truncated = true })
		return true
	}
	return false
}

// sweep sorts the records by what they need, asks CodeBuild about the builds it does not
// know the outcome of, one batch per role and Region, and then acts on each record.
func (r *run) sweep(ctx context.Context, recs []tokenstore.Record) {
	type group struct{ role, region string }
	groups := map[group][]item{}
	var order []group
	var act []item
	for _, rec := range recs {
		log := r.log.With(logging.KeyBuildARN, rec.BuildARN, logging.KeyExecutionARN, rec.ExecutionARN,
			logging.KeyMapIndex, rec.MapIndex, logging.KeyAccount, rec.Account, logging.KeyRegion, rec.Region,
			logging.KeyProject, rec.Project, "state", string(rec.State))
		it := item{rec: rec, log: log}
		if reason := r.skip(rec); reason != "" {
			r.count(func(s *Summary) { s.Skipped++ })
			log.Debug("record left alone", "reason", reason)
			continue
		}
		if reason := r.notOurs(rec); reason != "" {
			r.count(func(s *Summary) { s.Skipped++ })
			log.Warn("record left alone", "reason", reason)
			continue
		}
		if b, ok := knownOutcome(rec); ok {
			// A terminal outcome is on the record already: a send was refused or cut short.
			it.build, it.ended = b, true
			act = append(act, it)
			continue
		}
		if err := r.h.Allow.CheckRole(rec.RoleARN, rec.Account, rec.Region); err != nil {
			r.fail(log, "target no longer allowed; record not reconciled", err)
			continue
		}
		g := group{rec.RoleARN, rec.Region}
		if _, seen := groups[g]; !seen {
			order = append(order, g)
		}
		groups[g] = append(groups[g], it)
	}
	for _, g := range order {
		if r.outOfTime() {
			break
		}
		act = append(act, r.describe(ctx, g.role, g.region, groups[g])...)
	}
	r.actAll(ctx, act)
}

// skip explains why a record is not the reconciler's to look at now.
func (r *run) skip(rec tokenstore.Record) string {
	switch {
	case rec.TaskToken == "":
		return "poll mode: the poller completes it"
	case rec.State == tokenstore.Claimed && r.now.Sub(rec.ClaimedAt) < r.h.Lease:
		return "claimed within the lease: a completion is under way"
	}
	return ""
}

// notOurs explains why a record must not be acted on: its build ARN must agree with the
// record's target, and its execution must be one of the crossbuild state machine's.
func (r *run) notOurs(rec tokenstore.Record) string {
	if rec.BuildID == "" {
		return "no build recorded"
	}
	a, err := outcome.ParseBuildARN(rec.BuildARN)
	if err != nil {
		return "build ARN: " + err.Error()
	}
	if a.Account != rec.Account || a.Region != rec.Region || a.Project != rec.Project || a.BuildID != rec.BuildID {
		return "build ARN contradicts the record's target"
	}
	if prefix := executionPrefix(r.h.StateMachineARN); !strings.HasPrefix(rec.ExecutionARN, prefix) {
		return "execution of another state machine"
	}
	return ""
}

// executionPrefix is what the ARNs of a state machine's executions start with.
func executionPrefix(stateMachineARN string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":"
}

// knownOutcome decodes a terminal outcome kept on the record.
func knownOutcome(rec tokenstore.Record) (outcome.Build, bool) {
	if rec.Outcome == "" {
		return outcome.Build{}, false
	}
	var b outcome.Build
	if err := json.Unmarshal([]byte(rec.Outcome), &b); err != nil || !outcome.IsTerminal(b.Status) || b.ARN != rec.BuildARN {
		return outcome.Build{}, false // not usable: ask CodeBuild instead
	}
	return b, true
}

// describe asks CodeBuild, through the target role, about the builds of one role and
// Region, at most maxBatch at a time, and returns the records with what it learned. Records
// whose build CodeBuild does not know are left to the heartbeat and polling path.
func (r *run) describe(ctx context.Context, roleARN, region string, items []item) []item {
	creds, err := r.h.Roles.Credentials(ctx, roleARN, sessionName)
	if err != nil {
		for _, it := range items {
			r.fail(it.log, "assume the target role", err)
		}
		return nil
	}
	cb := r.h.CodeBuild(region, creds)
	var out []item
	for batch := range slices.Chunk(items, maxBatch) {
		if r.outOfTime() {
			break
		}
		ids := make([]string, len(batch))
		for i, it := range batch {
			ids[i] = it.rec.BuildID
		}
		resp, err := cb.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: ids})
		if err != nil {
			for _, it := range batch {
				r.fail(it.log, "describe builds", err)
			}
			continue
		}
		byID := map[string]cbtypes.Build{}
		for _, b := range resp.Builds {
			byID[aws.ToString(b.Id)] = b
		}
		for _, it := range batch {
			it.cb = cb
			found, ok := byID[it.rec.BuildID]
			if !ok {
				r.count(func(s *Summary) { s.NotFound++ })
				r.h.Metrics.Count(metrics.ReconcileBuildNotFound)
				it.log.Warn("build not found in its account and Region; left to the heartbeat and polling path")
				continue
			}
			b, err := outcome.FromCodeBuild(found)
			if err == nil && b.ARN != it.rec.BuildARN {
				err = fmt.Errorf("CodeBuild answered for %s", b.ARN)
			}
			if err != nil {
				r.fail(it.log, "read build", err)
				continue
			}
			if outcome.IsTerminal(b.Status) {
				it.build, it.ended = b, true
			}
			out = append(out, it)
		}
	}
	return out
}

// actAll acts on the records, at most Concurrency at a time.
func (r *run) actAll(ctx context.Context, items []item) {
	sem := make(chan struct{}, max(r.h.Concurrency, 1))
	var wg sync.WaitGroup
	for _, it := range items {
		if r.outOfTime() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.act(ctx, it)
		}()
	}
	wg.Wait()
}

// act settles one record: a build that ended has its outcome delivered; a build that runs
// for an execution that ended is stopped and its record closed; anything else waits.
func (r *run) act(ctx context.Context, it item) {
	running, err := r.executionRunning(ctx, it.rec.ExecutionARN)
	switch {
	case err != nil && !it.ended:
		r.fail(it.log, "describe execution", err)
		return
	case err != nil:
		// Whether the task still waits is unknown; delivering is safe either way.
		it.log.Warn("describe execution failed; delivering the outcome anyway", logging.KeyError, err.Error())
		running = true
	}
	switch {
	case it.ended && running:
		r.complete(ctx, it)
	case it.ended:
		// No task waits for it any more: a send could only be refused.
		r.close(ctx, it, "the build ended after its execution")
	case running:
		r.count(func(s *Summary) { s.Running++ })
		it.log.Debug("build still running")
	default:
		r.stopBuild(ctx, it)
	}
}

// complete claims the record and delivers its outcome, as the callback would have.
func (r *run) complete(ctx context.Context, it item) {
	claimed, err := r.h.Store.ClaimAs(ctx, it.rec.BuildARN, r.owner, r.h.Lease)
	if err != nil {
		var conflict *tokenstore.ConflictError
		var notFound *tokenstore.NotFoundError
		if errors.As(err, &conflict) || errors.As(err, &notFound) {
			r.count(func(s *Summary) { s.Skipped++ })
			it.log.Info("completion already under way or done", "reason", err.Error())
			return
		}
		r.fail(it.log, "claim token record", &failure.TransientError{Op: "claim " + it.rec.BuildARN, Err: err})
		return
	}
	b := it.build
	if kept, ok := knownOutcome(claimed); ok {
		b = kept // what the callback or the starter learned first, and may have tried to send
	}
	if claimed.TaskToken == "" {
		if err := r.h.Store.Release(ctx, claimed); err != nil {
			it.log.Warn("release a record without a task token", logging.KeyError, err.Error())
		}
		r.count(func(s *Summary) { s.Skipped++ })
		return
	}
	sendCtx, sent := watchSends(ctx)
	if err := r.h.Finisher.Finish(sendCtx, claimed, b, outcome.ByReconciler); err != nil {
		r.fail(it.log, "complete task", err)
		return
	}
	if !sent() {
		r.count(func(s *Summary) { s.Settled++ })
		it.log.Info("record settled; its task was already closed", "status", b.Status)
		return
	}
	r.count(func(s *Summary) { s.Reconciled++ })
	r.h.Metrics.Count(metrics.RecordsReconciled)
	late := time.Duration(0)
	if !b.End.IsZero() {
		late = r.h.Now().Sub(b.End).Round(time.Second)
	}
	it.log.Warn("a lost completion was delivered", "status", b.Status, "completedBy", outcome.ByReconciler,
		"secondsAfterBuildEnd", int64(late/time.Second))
}

// stopBuild stops a build whose execution ended and closes its record.
func (r *run) stopBuild(ctx context.Context, it item) {
	res, err := buildstop.Stop(ctx, it.cb, it.rec.BuildID, it.rec.BuildARN)
	if err != nil {
		r.h.Metrics.Count(metrics.StopFailed)
		r.fail(it.log, "stop the build of an ended execution", err)
		return
	}
	switch {
	case !res.Found:
		r.count(func(s *Summary) { s.NotFound++ })
		r.h.Metrics.Count(metrics.ReconcileBuildNotFound)
		it.log.Warn("build not found in its account and Region; nothing to stop")
		return
	case res.Stopped:
		r.count(func(s *Summary) { s.Stopped++ })
		r.h.Metrics.Count(metrics.BuildStopped)
	}
	r.close(ctx, it, "the execution ended while the build ran (build "+res.Status+")")
}

// close moves a record whose execution ended to STOPPED: no task waits for it.
func (r *run) close(ctx context.Context, it item, why string) {
	if _, err := r.h.Store.Stop(ctx, it.rec.BuildARN, it.rec.ExecutionARN); err != nil {
		var conflict *tokenstore.ConflictError
		var notFound *tokenstore.NotFoundError
		if errors.As(err, &conflict) || errors.As(err, &notFound) {
			r.count(func(s *Summary) { s.Skipped++ })
			it.log.Info("record closed by someone else meanwhile", "reason", err.Error())
			return
		}
		r.fail(it.log, "close token record", &failure.TransientError{Op: "close " + it.rec.BuildARN, Err: err})
		return
	}
	r.count(func(s *Summary) { s.Closed++ })
	r.h.Metrics.Count(metrics.RecordsClosed)
	it.log.Info("record of an ended execution closed", "reason", why)
}

// executionRunning asks Step Functions, once per execution and run, whether the execution
// still runs. PENDING_REDRIVE counts as running: a redrive may still reuse the build.
// Records of one execution handled at once wait for one answer; a throttled answer is not
// kept, so the next record asks again.
func (r *run) executionRunning(ctx context.Context, executionARN string) (bool, error) {
	r.mu.Lock()
	e, ok := r.executions[executionARN]
	if !ok {
		e = &execStatus{}
		r.executions[executionARN] = e
	}
	r.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.known {
		out, err := r.h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(executionARN)})
		if err != nil {
			if awserr.IsRetryable(err) {
				return false, err
			}
			e.err = err
		} else {
			e.status = out.Status
		}
		e.known = true
	}
	if e.err != nil {
		return false, e.err
	}
	return e.status == sfntypes.ExecutionStatusRunning || e.status == sfntypes.ExecutionStatusPendingRedrive, nil
}
