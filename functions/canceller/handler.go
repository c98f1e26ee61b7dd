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

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildstop"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// The Step Functions event this function takes (EventBridge events reference, "Step
// Functions events"; Step Functions developer guide, "EventBridge for Step Functions
// execution status changes").
const (
	StatesSource     = "aws.states"
	StatusChangeType = "Step Functions Execution Status Change"
)

// Stopping statuses: the execution ended without its tasks completing. A SUCCEEDED
// execution has no task left waiting for a build.
var stoppingStatuses = []string{"ABORTED", "TIMED_OUT", "FAILED"}

var errNotStateMachine = errors.New("must be a Step Functions state machine ARN")

// CodeBuildAPI is what the canceller does with a build in a target account.
type CodeBuildAPI interface {
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
	StopBuild(ctx context.Context, in *codebuild.StopBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error)
}

// Roles hands out credentials for target roles.
type Roles interface {
	Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error)
}

// Store is the part of the token store the canceller uses.
type Store interface {
	ListExecution(ctx context.Context, executionARN string) ([]tokenstore.Record, []tokenstore.Intent, error)
	CancelIntent(ctx context.Context, executionARN string, mapIndex int) (tokenstore.Intent, error)
	Stop(ctx context.Context, buildARN, executionARN string) (tokenstore.Record, error)
}

// StopTarget is the state machine's request to stop the build of one failed target: its
// (parent) execution ARN and Map index.
type StopTarget struct {
	ExecutionARN string `json:"executionArn"`
	MapIndex     *int   `json:"mapIndex"`
}

// InvalidEvent reports an event that is not a Step Functions execution status change. It
// is returned so the event ends in the dead-letter queue for inspection.
type InvalidEvent struct {
	Reason string
}

func (e *InvalidEvent) Error() string { return "invalid Step Functions event: " + e.Reason }

// StopFailed reports builds of an ended execution that could not be stopped for a reason
// other than throttling or an outage (a refused role, a refused StopBuild). It is returned
// so the event is retried and then kept in the dead-letter queue: a build may still run.
type StopFailed struct {
	ExecutionARN string
	Builds       []string // build ARNs
	Err          error
}

func (e *StopFailed) Error() string {
	return fmt.Sprintf("stop %d build(s) of %s: %v", len(e.Builds), e.ExecutionARN, e.Err)
}

func (e *StopFailed) Unwrap() error { return e.Err }

// statusChange is the part of the event's detail the canceller reads.
type statusChange struct {
	ExecutionARN    string `json:"executionArn"`
	StateMachineARN string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
}

// Handler stops the running builds of an execution that ended without completing.
type Handler struct {
	// StateMachineARN is the crossbuild state machine; events of other machines, and of
	// its Distributed Map's child executions (<arn>/<label>), are ignored.
	StateMachineARN string
	Allow           *target.AllowList
	Roles           Roles
	CodeBuild       func(region string, creds aws.CredentialsProvider) CodeBuildAPI
	Store           Store
	// Concurrency bounds the builds handled at once (one execution may have 10,000).
	Concurrency int
	Log         *slog.Logger
	Metrics     *metrics.Recorder
}

// Invoke adapts Handle to the Lambda runtime.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (struct{}, error) {
	return struct{}{}, h.Handle(ctx, raw)
}

// Handle processes one status change. Events of executions that succeeded, of other state
// machines and of child executions are no-ops. For an execution that ended ABORTED,
// TIMED_OUT or FAILED, every build it started that still runs is stopped through its
// target role and its record closed as STOPPED. A repeated event finds nothing left to do.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	var probe struct {
		StopTarget *StopTarget `json:"stopTarget"`
	}
	if err := json.Unmarshal(raw, &probe); err == nil && probe.StopTarget != nil {
		return h.stopTarget(ctx, *probe.StopTarget)
	}
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return &InvalidEvent{Reason: err.Error()}
	}
	if ev.Source != StatesSource || ev.DetailType != StatusChangeType {
		return &InvalidEvent{Reason: fmt.Sprintf("source %q detail-type %q is not a %s %q", ev.Source, ev.DetailType, StatesSource, StatusChangeType)}
	}
	var d statusChange
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return &InvalidEvent{Reason: "detail: " + err.Error()}
	}
	if !strings.Contains(d.ExecutionARN, ":execution:") {
		return &InvalidEvent{Reason: fmt.Sprintf("detail.executionArn %q is not an execution ARN", d.ExecutionARN)}
	}
	log := h.Log.With(logging.KeyExecutionARN, d.ExecutionARN, "status", d.Status, "eventId", ev.ID)
	tracing.Annotate(ctx, tracing.KeyExecutionARN, d.ExecutionARN)

	// Token records carry the parent execution's ARN (the Map's ItemSelector runs in the
	// parent), so the parent's end is what stops builds. A child's end alone does not: its
	// target failed after its build ended, or its parent is ending and sends its own event.
	if d.StateMachineARN != h.StateMachineARN {
		h.Metrics.Count(metrics.EventIgnored)
		log.Info("event of another state machine or a child execution ignored", "stateMachineArn", d.StateMachineARN)
		return nil
	}
	if !slices.Contains(stoppingStatuses, d.Status) {
		h.Metrics.Count(metrics.EventIgnored)
		log.Info("execution did not end unfinished; nothing to stop")
		return nil
	}

	recs, intents, err := h.Store.ListExecution(ctx, d.ExecutionARN)
	if err != nil {
		return &failure.TransientError{Op: "list token records of " + d.ExecutionARN, Err: err}
	}
	recorded := map[string]bool{}
	var open []tokenstore.Record
	for _, rec := range recs {
		recorded[rec.BuildARN] = true
		switch rec.State {
		case tokenstore.Completed, tokenstore.Parked, tokenstore.Stopped:
		default:
			open = append(open, rec)
		}
	}
	// Every intent is cancelled, so a starter still in flight starts nothing (or stops what
	// it just started); a build an intent holds without a record yet is stopped here.
	cancelled, errs := h.cancelIntents(ctx, log, intents)
	for _, in := range cancelled {
		if in.BuildARN != "" && !recorded[in.BuildARN] {
			open = append(open, fromIntent(in))
		}
	}
	log.Info("execution ended unfinished", "records", len(recs), "intents", len(intents), "open", len(open))

	errs = append(errs, h.cancelAll(ctx, log, d.ExecutionARN, open)...)
	return h.result(d.ExecutionARN, errs)
}

// stopTarget stops the build of one target whose child execution is failing while the
// build may still run, and cancels its intent so that nothing more starts for it.
func (h *Handler) stopTarget(ctx context.Context, req StopTarget) error {
	if !contract.ValidExecutionARN(req.ExecutionARN) {
		return &InvalidEvent{Reason: fmt.Sprintf("stopTarget.executionArn %q is not an execution ARN", req.ExecutionARN)}
	}
	if !contract.ValidMapIndex(req.MapIndex) {
		return &InvalidEvent{Reason: fmt.Sprintf("stopTarget.mapIndex must be a whole number from 0 to %d", contract.MaxMapIndex)}
	}
	log := h.Log.With(logging.KeyExecutionARN, req.ExecutionARN, logging.KeyMapIndex, *req.MapIndex, "reason", "target failed")
	tracing.Annotate(ctx, tracing.KeyExecutionARN, req.ExecutionARN)
	in, err := h.Store.CancelIntent(ctx, req.ExecutionARN, *req.MapIndex)
	var notFound *tokenstore.NotFoundError
	switch {
	case errors.As(err, &notFound):
		log.Info("no build was started for the target")
		return nil
	case err != nil:
		return &failure.TransientError{Op: "cancel intent of " + req.ExecutionARN, Err: err}
	case in.BuildARN == "":
		log.Info("the target's build was never started; nothing will start now")
		return nil
	}
	errs := h.cancelAll(ctx, log, req.ExecutionARN, []tokenstore.Record{fromIntent(in)})
	return h.result(req.ExecutionARN, errs)
}

// cancelIntents marks the intents cancelled, at most Concurrency at a time, and returns
// them as stored.
func (h *Handler) cancelIntents(ctx context.Context, log *slog.Logger, intents []tokenstore.Intent) ([]tokenstore.Intent, []buildError) {
	var (
		mu   sync.Mutex
		out  []tokenstore.Intent
		errs []buildError
		wg   sync.WaitGroup
		sem  = make(chan struct{}, max(h.Concurrency, 1))
	)
	for _, in := range intents {
		if in.Cancelled() {
			out = append(out, in)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			got, err := h.Store.CancelIntent(ctx, in.ExecutionARN, in.MapIndex)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				log.Error("cancel intent", logging.KeyMapIndex, in.MapIndex, logging.KeyError, err.Error())
				errs = append(errs, buildError{tokenstore.IntentKey(in.ExecutionARN, in.MapIndex),
					&failure.TransientError{Op: "cancel intent", Err: err}})
				return
			}
			out = append(out, got)
		}()
	}
	wg.Wait()
	return out, errs
}

// fromIntent describes the build an intent holds as the record it will have, so that it can
// be stopped before the starter wrote that record.
func fromIntent(in tokenstore.Intent) tokenstore.Record {
	return tokenstore.Record{
		BuildARN: in.BuildARN, BuildID: in.BuildID, ExecutionARN: in.ExecutionARN, MapIndex: in.MapIndex,
		Account: in.Account, Region: in.Region, Project: in.Project, RoleARN: in.RoleARN,
		State: tokenstore.IntentState,
	}
}

// buildError is the failure to stop one build.
type buildError struct {
	buildARN string
	err      error
}

// cancelAll handles the open records, at most Concurrency at a time, and returns what
// failed.
func (h *Handler) cancelAll(ctx context.Context, log *slog.Logger, executionARN string, recs []tokenstore.Record) []buildError {
	n := max(h.Concurrency, 1)
	var (
		mu   sync.Mutex
		errs []buildError
		wg   sync.WaitGroup
		sem  = make(chan struct{}, n)
	)
	for _, rec := range recs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := h.cancel(ctx, log, executionARN, rec); err != nil {
				mu.Lock()
				errs = append(errs, buildError{rec.BuildARN, err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b buildError) int { return strings.Compare(a.buildARN, b.buildARN) })
	return errs
}

// result names the outcome: nil when every open build was dealt with, *TransientError
// when any failure is worth retrying soon, *StopFailed otherwise.
func (h *Handler) result(executionARN string, errs []buildError) error {
	if len(errs) == 0 {
		return nil
	}
	builds := make([]string, len(errs))
	joined := make([]error, len(errs))
	transient := false
	for i, e := range errs {
		builds[i], joined[i] = e.buildARN, e.err
		var te *failure.TransientError
		if errors.As(e.err, &te) {
			transient = true
		}
	}
	err := errors.Join(joined...)
	if transient {
		return &failure.TransientError{Op: fmt.Sprintf("stop %d build(s) of %s", len(errs), executionARN), Err: err}
	}
	return &StopFailed{ExecutionARN: executionARN, Builds: builds, Err: err}
}

// cancel stops one record's build if it still runs and closes the record. A build that
// already ended is left to the callback, which records its real outcome.
func (h *Handler) cancel(ctx context.Context, log *slog.Logger, executionARN string, rec tokenstore.Record) error {
	log = log.With(logging.KeyBuildARN, rec.BuildARN, logging.KeyMapIndex, rec.MapIndex, logging.KeyAccount, rec.Account,
		logging.KeyRegion, rec.Region, logging.KeyProject, rec.Project, "state", string(rec.State))
	if reason := h.notOurs(executionARN, rec); reason != "" {
		h.Metrics.Count(metrics.StopSkipped)
		log.Warn("record left alone", "reason", reason)
		return nil
	}
	if err := h.Allow.CheckRole(rec.RoleARN, rec.Account, rec.Region); err != nil {
		h.Metrics.Count(metrics.StopFailed)
		log.Error("target no longer allowed; build not stopped", logging.KeyError, err.Error())
		return err
	}
	creds, err := h.Roles.Credentials(ctx, rec.RoleARN, assume.SessionName(executionARN))
	if err != nil {
		h.Metrics.Count(metrics.StopFailed)
		log.Error("assume role", logging.KeyError, err.Error())
		return err
	}
	cb := h.CodeBuild(rec.Region, creds)

	res, err := buildstop.Stop(ctx, cb, rec.BuildID, rec.BuildARN)
	if err != nil {
		op := buildstop.OpStop
		var oe *buildstop.OpError
		if errors.As(err, &oe) {
			op, err = oe.Op, oe.Err
		}
		return h.failed(log, op, rec, err)
	}
	if !res.Found {
		h.Metrics.Count(metrics.StopSkipped)
		log.Warn("build not found in its account and Region; nothing to stop")
		return nil
	}
	// IN_PROGRESS after StopBuild: the build is stopping, which CodeBuild completes on its own.
	if res.Ended() {
		h.Metrics.Count(metrics.StopSkipped)
		log.Info("build had already ended; its record is left to the callback", "buildStatus", res.Status)
		return nil
	}
	h.Metrics.Count(metrics.BuildStopped)

	if _, err := h.Store.Stop(ctx, rec.BuildARN, executionARN); err != nil {
		var conflict *tokenstore.ConflictError
		var notFound *tokenstore.NotFoundError
		if errors.As(err, &conflict) || errors.As(err, &notFound) {
			log.Info("record closed by someone else meanwhile", "reason", err.Error())
			return nil
		}
		return &failure.TransientError{Op: "close token record " + rec.BuildARN, Err: err}
	}
	log.Info("build stopped and record closed", "buildStatus", res.Status)
	return nil
}

// notOurs explains why a record must not be acted on: crossbuild stops only builds it
// recorded for this execution, whose ARN agrees with the record's target.
func (h *Handler) notOurs(executionARN string, rec tokenstore.Record) string {
	if rec.ExecutionARN != executionARN {
		return "record of another execution"
	}
	if rec.BuildARN == "" || rec.BuildID == "" {
		return "no build recorded yet"
	}
	a, err := outcome.ParseBuildARN(rec.BuildARN)
	if err != nil {
		return "build ARN: " + err.Error()
	}
	if a.Account != rec.Account || a.Region != rec.Region || a.Project != rec.Project || a.BuildID != rec.BuildID {
		return "build ARN contradicts the record's target"
	}
	return ""
}

func (h *Handler) failed(log *slog.Logger, op string, rec tokenstore.Record, err error) error {
	h.Metrics.Count(metrics.StopFailed)
	log.Error(op, logging.KeyError, err.Error())
	if awserr.IsRetryable(err) {
		return &failure.TransientError{Op: op + " " + rec.BuildID, Err: err}
	}
	return fmt.Errorf("%s %s: %w", op, rec.BuildID, err)
}
