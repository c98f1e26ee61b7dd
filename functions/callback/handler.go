package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// Store is the part of the token store the callback uses.
type Store interface {
	Get(ctx context.Context, buildARN string) (tokenstore.Record, error)
	ClaimAs(ctx context.Context, buildARN, owner string, lease time.Duration) (tokenstore.Record, error)
	Park(ctx context.Context, p tokenstore.Record) error
}

// HeartbeatAPI is the Step Functions operation for progress.
type HeartbeatAPI interface {
	SendTaskHeartbeat(ctx context.Context, in *sfn.SendTaskHeartbeatInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error)
}

// Finisher completes a claimed task.
type Finisher interface {
	Finish(ctx context.Context, claimed tokenstore.Record, b outcome.Build, by string) error
}

// InvalidEvent reports an event that is not a CodeBuild build event. It is returned so the
// event ends in the function's failure destination for inspection instead of vanishing.
type InvalidEvent struct {
	Reason string
}

func (e *InvalidEvent) Error() string { return "invalid CodeBuild event: " + e.Reason }

// Handler turns CodeBuild events into heartbeats and task completions.
type Handler struct {
	Store    Store
	SFN      HeartbeatAPI
	Finisher Finisher
	Allow    *target.AllowList
	Lease    time.Duration
	ParkTTL  time.Duration
	Log      *slog.Logger
	Metrics  *metrics.Recorder
	Now      func() time.Time
}

// Invoke adapts Handle to the Lambda runtime, which hands over the event's raw JSON.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (struct{}, error) {
	return struct{}{}, h.Handle(ctx, raw)
}

// Handle processes one event. Duplicates, late events, events of builds crossbuild did
// not start and events that contradict the record are harmless no-ops; only a failure
// worth retrying (or a malformed event) is returned as an error.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	var ev events.CodeBuildEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return &InvalidEvent{Reason: err.Error()}
	}
	if ev.Source != events.CodeBuildEventSource {
		return &InvalidEvent{Reason: fmt.Sprintf("source %q is not %s", ev.Source, events.CodeBuildEventSource)}
	}
	if ev.DetailType != events.CodeBuildStateChangeDetailType && ev.DetailType != events.CodeBuildPhaseChangeDetailType {
		return &InvalidEvent{Reason: fmt.Sprintf("detail-type %q is not a build state or phase change", ev.DetailType)}
	}
	if _, err := outcome.ParseBuildARN(ev.Detail.BuildID); err != nil {
		return &InvalidEvent{Reason: "detail.build-id: " + err.Error()}
	}
	log := h.Log.With(logging.KeyBuildARN, ev.Detail.BuildID, logging.KeyAccount, ev.AccountID,
		logging.KeyRegion, ev.Region, logging.KeyProject, ev.Detail.ProjectName, "eventId", ev.ID, "detailType", ev.DetailType)
	tracing.Annotate(ctx, tracing.KeyBuildARN, ev.Detail.BuildID)
	tracing.Annotate(ctx, tracing.KeyAccount, ev.AccountID)

	b, err := outcome.FromEvent(ev)
	if err != nil {
		// The build ARN names another account or Region than the event came from.
		h.Metrics.Count(metrics.EventRejected)
		log.Warn("event rejected", "reason", err.Error())
		return nil
	}
	terminal := ev.DetailType == events.CodeBuildStateChangeDetailType && outcome.IsTerminal(b.Status)

	rec, err := h.Store.Get(ctx, b.ARN)
	var notFound *tokenstore.NotFoundError
	switch {
	case errors.As(err, &notFound):
		if !terminal || !h.Allow.AllowsAccountRegion(b.Account, b.Region) {
			h.Metrics.Count(metrics.EventIgnored)
			log.Info("event for a build without a record ignored", "status", b.Status)
			return nil
		}
		if initiator := ev.Detail.AdditionalInformation.Initiator; !startedByCrossbuild(initiator) {
			// Only the starter adopts a parked outcome: one it never asks for would sit for ParkTTL.
			h.Metrics.Count(metrics.EventForeignBuild)
			log.Debug("terminal event of a build crossbuild did not start ignored", "initiator", initiator, "status", b.Status)
			return nil
		}
		parked, done, err := h.park(ctx, log, b)
		if done || err != nil {
			return err
		}
		rec = parked
	case err != nil:
		return &failure.TransientError{Op: "read token record " + b.ARN, Err: err}
	}

	log = log.With(logging.KeyExecutionARN, rec.ExecutionARN, logging.KeyMapIndex, rec.MapIndex)
	tracing.Annotate(ctx, tracing.KeyExecutionARN, rec.ExecutionARN)
	tracing.Link(ctx, rec.TraceID) // from the execution's trace to every event of its build
	if rec.Account != b.Account || rec.Region != b.Region || rec.Project != b.Project {
		h.Metrics.Count(metrics.EventRejected)
		log.Warn("event contradicts the record", "recordAccount", rec.Account, "recordRegion", rec.Region)
		return nil
	}
	if !terminal {
		// Ended phases go into the execution's trace whatever the record's state: a phase's
		// document is the same from every event that reports it.
		if err := tracing.Emit(ctx, buildtrace.Phases(buildtrace.FromRecord(rec), b)...); err != nil {
			log.Warn("phases not added to the execution's trace", logging.KeyError, err.Error())
		}
	}
	if rec.TaskToken == "" || rec.State == tokenstore.Completed || rec.State == tokenstore.Parked {
		h.Metrics.Count(metrics.EventIgnored)
		log.Info("nothing to do", "state", string(rec.State), "completion", rec.Completion, "status", b.Status)
		return nil
	}
	if !terminal {
		h.heartbeat(ctx, log, rec)
		return nil
	}

	// One owner id per invocation: a claim whose answer is lost is retried by the SDK and
	// must then be recognised as ours, not as a completion already under way.
	owner := tokenstore.NewOwnerID()
	log = log.With("claimOwner", owner)
	claimed, err := h.Store.ClaimAs(ctx, b.ARN, owner, h.Lease)
	if err != nil {
		var conflict *tokenstore.ConflictError
		if errors.As(err, &conflict) || errors.As(err, &notFound) {
			h.Metrics.Count(metrics.EventIgnored)
			log.Info("completion already under way or done", "reason", err.Error())
			return nil
		}
		return &failure.TransientError{Op: "claim token record " + b.ARN, Err: err}
	}
	return h.Finisher.Finish(ctx, claimed, b, outcome.ByEvent)
}

// startedByCrossbuild reports whether a build's initiator could be the starter's role
// session. CodeBuild names an IAM user by its name and CodePipeline as
// "codepipeline/<pipeline>" (CodeBuild API reference, Build.initiator; sample in
// "Build notifications input format reference"), and a build started through an assumed
// role as "<role name>/<role session name>" (a delivered event of a build started from a
// Lambda function's role, in int128/codebuild-runner codebuildevents/types_test.go). Role
// and session names never contain "/".
func startedByCrossbuild(initiator string) bool {
	role, session, ok := strings.Cut(initiator, "/")
	return ok && role != "" && assume.IsCrossbuildSession(session)
}

// park keeps a terminal outcome whose record does not exist yet: the starter may still be
// between StartBuild and its write, and will complete the task from the parked outcome.
// When the record appeared meanwhile, it is returned for normal processing (done false).
func (h *Handler) park(ctx context.Context, log *slog.Logger, b outcome.Build) (tokenstore.Record, bool, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return tokenstore.Record{}, true, fmt.Errorf("encode parked outcome: %w", err)
	}
	now := h.Now()
	err = h.Store.Park(ctx, tokenstore.Record{
		BuildARN: b.ARN, BuildID: b.ID, Account: b.Account, Region: b.Region, Project: b.Project,
		Outcome: string(raw), CreatedAt: now, ExpiresAt: now.Add(h.ParkTTL),
	})
	var exists *tokenstore.ExistsError
	switch {
	case err == nil:
		h.Metrics.Count(metrics.EventParked)
		log.Info("terminal event parked until the starter records the build", "status", b.Status)
		return tokenstore.Record{}, true, nil
	case errors.As(err, &exists):
		return exists.Existing, false, nil
	}
	return tokenstore.Record{}, true, &failure.TransientError{Op: "park outcome of " + b.ARN, Err: err}
}

// heartbeat tells Step Functions the build is alive. It is best effort: a lost heartbeat
// is repaired by the next event, and a missing stream of them by the polling fallback.
func (h *Handler) heartbeat(ctx context.Context, log *slog.Logger, rec tokenstore.Record) {
	_, err := h.SFN.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(rec.TaskToken)})
	switch {
	case err == nil:
		log.Debug("heartbeat sent", logging.KeyToken, logging.TokenHash(rec.TaskToken))
	case awserr.IsTaskClosed(err):
		h.Metrics.Count(metrics.TaskAlreadyClosed)
		log.Info("heartbeat for a closed task", "reason", awserr.Code(err))
	default:
		log.Warn("heartbeat failed", logging.KeyError, err.Error())
	}
}
