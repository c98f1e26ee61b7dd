package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/buildtrace"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/polling"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// CodeBuildAPI is the CodeBuild operation the poller uses.
type CodeBuildAPI interface {
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
}

// Roles hands out credentials for target roles.
type Roles interface {
	Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error)
}

// Store is the part of the token store the poller uses.
type Store interface {
	Get(ctx context.Context, buildARN string) (tokenstore.Record, error)
	FindByExecution(ctx context.Context, executionARN string, mapIndex int) (tokenstore.Record, error)
	Complete(ctx context.Context, buildARN, by string) error
}

// Handler reports a build's status through the target role.
type Handler struct {
	Allow               *target.AllowList
	Roles               Roles
	CodeBuild           func(region string, creds aws.CredentialsProvider) CodeBuildAPI
	Store               Store
	Log                 *slog.Logger
	Metrics             *metrics.Recorder
	Now                 func() time.Time // time.Now when nil
	DefaultPollInterval int
	// MaxPollInterval caps the doubling interval (internal/polling).
	MaxPollInterval int
}

// Handle returns the build's status and, once it is final, the per-target result. A final
// status marks the token record completed, so an event that arrives later changes nothing.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (contract.PollerResponse, error) {
	var req contract.PollerRequest
	if err := contract.Decode(raw, &req, "poller request"); err != nil {
		return contract.PollerResponse{}, err
	}
	if req.IntervalSeconds != 0 && (req.IntervalSeconds < polling.MinIntervalSeconds || req.IntervalSeconds > polling.MaxIntervalSeconds) {
		return contract.PollerResponse{}, &failure.InvalidTarget{Index: -1, Field: "intervalSeconds",
			Rule: fmt.Sprintf("must be from %d to %d", polling.MinIntervalSeconds, polling.MaxIntervalSeconds)}
	}
	rec, err := h.record(ctx, req)
	if err != nil {
		return contract.PollerResponse{}, err
	}
	log := h.Log.With(logging.KeyBuildARN, rec.BuildARN, logging.KeyExecutionARN, rec.ExecutionARN,
		logging.KeyMapIndex, rec.MapIndex, logging.KeyAccount, rec.Account, logging.KeyProject, rec.Project)
	tracing.Annotate(ctx, tracing.KeyBuildARN, rec.BuildARN)
	tracing.Annotate(ctx, tracing.KeyExecutionARN, rec.ExecutionARN)
	tracing.Annotate(ctx, tracing.KeyAccount, rec.Account)
	tracing.Link(ctx, rec.TraceID)
	if err := h.Allow.CheckRole(rec.RoleARN, rec.Account, rec.Region); err != nil {
		return contract.PollerResponse{}, err
	}

	creds, err := h.Roles.Credentials(ctx, rec.RoleARN, assume.SessionName(rec.ExecutionARN))
	if err != nil {
		log.Error("assume role", logging.KeyError, err.Error())
		return contract.PollerResponse{}, err
	}
	out, err := h.CodeBuild(rec.Region, creds).BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{rec.BuildID}})
	if err != nil {
		if awserr.IsRetryable(err) {
			return contract.PollerResponse{}, &failure.TransientError{Op: "describe build " + rec.BuildID, Err: err}
		}
		return contract.PollerResponse{}, &failure.PollFailed{BuildID: rec.BuildID, Err: err}
	}
	if slices.Contains(out.BuildsNotFound, rec.BuildID) || len(out.Builds) == 0 {
		return contract.PollerResponse{}, &failure.BuildNotFound{BuildID: rec.BuildID, Region: rec.Region}
	}
	b, err := outcome.FromCodeBuild(out.Builds[0])
	if err != nil {
		return contract.PollerResponse{}, &failure.PollFailed{BuildID: rec.BuildID, Err: err}
	}
	if b.ARN != rec.BuildARN {
		return contract.PollerResponse{}, &failure.PollFailed{BuildID: rec.BuildID,
			Err: fmt.Errorf("CodeBuild answered for %s", b.ARN)}
	}

	resp := contract.PollerResponse{Status: b.Status, Terminal: outcome.IsTerminal(b.Status), Build: h.descriptor(rec)}
	tg := buildtrace.FromRecord(rec)
	if !resp.Terminal {
		if err := tracing.Emit(ctx, buildtrace.Phases(tg, b)...); err != nil {
			log.Warn("phases not added to the execution's trace", logging.KeyError, err.Error())
		}
		interval := req.IntervalSeconds
		if interval == 0 {
			interval = h.DefaultPollInterval
		}
		resp.Next = &contract.PollerRequest{BuildARN: rec.BuildARN, IntervalSeconds: polling.Next(interval, h.MaxPollInterval)}
		log.Debug("build still running", "status", b.Status, "nextPollSeconds", resp.Next.IntervalSeconds)
		return resp, nil
	}
	result := outcome.NewResult(b, rec.EnvOverrides, outcome.ByPoll)
	resp.Result = &result
	if b.Status != outcome.StatusSucceeded {
		resp.Error, resp.Cause = outcome.Failure(b)
	}
	if err := h.Store.Complete(ctx, rec.BuildARN, outcome.ByPoll); err != nil {
		var conflict *tokenstore.ConflictError
		if !errors.As(err, &conflict) {
			// The result is right regardless; a late event would find the task closed.
			log.Warn("mark record completed", logging.KeyError, err.Error())
		}
	}
	// The result closes the task when the state machine receives it.
	at, path := time.Now(), buildtrace.Path(outcome.ByPoll, rec.Completion)
	if h.Now != nil {
		at = h.Now()
	}
	h.Metrics.Completion(path, buildtrace.Lag(b, at))
	buildtrace.Close(ctx, log, tg, b, buildtrace.Closed{By: outcome.ByPoll, Path: path, At: at})
	log.Info("build finished", "status", b.Status, "completedBy", outcome.ByPoll, "completionPath", path)
	return resp, nil
}

// record finds the token record from whichever identification the request carries.
func (h *Handler) record(ctx context.Context, req contract.PollerRequest) (tokenstore.Record, error) {
	var (
		rec tokenstore.Record
		err error
		key string
	)
	switch {
	case req.BuildARN != "":
		if _, perr := outcome.ParseBuildARN(req.BuildARN); perr != nil {
			return rec, &failure.InvalidTarget{Index: -1, Field: "buildArn", Rule: perr.Error()}
		}
		key = "build " + req.BuildARN
		rec, err = h.Store.Get(ctx, req.BuildARN)
	case req.BuildID != "":
		partition, account, perr := target.ParseRoleARN(req.RoleARN)
		if perr != nil {
			return rec, &failure.InvalidTarget{Index: -1, Field: "roleArn", Rule: perr.Error()}
		}
		if !target.IsRegion(req.Region) {
			return rec, &failure.InvalidTarget{Index: -1, Field: "region", Rule: "must be a Region name like eu-west-1"}
		}
		arn := outcome.BuildARN(partition, req.Region, account, req.BuildID)
		if _, perr := outcome.ParseBuildARN(arn); perr != nil {
			return rec, &failure.InvalidTarget{Index: -1, Field: "buildId", Rule: "must be project:id as StartBuild returns it"}
		}
		key = "build " + arn
		rec, err = h.Store.Get(ctx, arn)
	case req.ExecutionARN != "":
		if !contract.ValidExecutionARN(req.ExecutionARN) || !contract.ValidMapIndex(req.MapIndex) {
			return rec, &failure.InvalidTarget{Index: -1, Field: "executionArn/mapIndex", Rule: "must be an execution ARN and a map index"}
		}
		key = fmt.Sprintf("execution %s index %d", req.ExecutionARN, *req.MapIndex)
		rec, err = h.Store.FindByExecution(ctx, req.ExecutionARN, *req.MapIndex)
	default:
		return rec, &failure.InvalidTarget{Index: -1, Field: "poller request", Rule: "needs buildArn, buildId with roleArn and region, or executionArn with mapIndex"}
	}
	var notFound *tokenstore.NotFoundError
	switch {
	case errors.As(err, &notFound):
		return rec, &failure.RecordNotFound{Key: key}
	case err != nil:
		return rec, &failure.TransientError{Op: "read token record for " + key, Err: err}
	case rec.State == tokenstore.Parked || rec.RoleARN == "" || rec.BuildID == "":
		// Only a terminal event is known so far; the starter has not recorded the build.
		return rec, &failure.RecordNotFound{Key: key}
	}
	return rec, nil
}

func (h *Handler) descriptor(rec tokenstore.Record) contract.Descriptor {
	env := rec.EnvOverrides
	if env == nil {
		env = []string{}
	}
	return contract.Descriptor{
		BuildID: rec.BuildID, BuildARN: rec.BuildARN, Account: rec.Account, Region: rec.Region, Project: rec.Project,
		RoleARN: rec.RoleARN, ExecutionARN: rec.ExecutionARN, MapIndex: rec.MapIndex, Completion: rec.Completion,
		PollIntervalSeconds: h.DefaultPollInterval, EnvOverrides: env,
	}
}
