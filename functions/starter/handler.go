package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/metrics"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// CodeBuildAPI is what the starter does in a target account: start a build, and find or
// stop one an earlier attempt started.
type CodeBuildAPI interface {
	StartBuild(ctx context.Context, in *codebuild.StartBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error)
	ListBuildsForProject(ctx context.Context, in *codebuild.ListBuildsForProjectInput, optFns ...func(*codebuild.Options)) (*codebuild.ListBuildsForProjectOutput, error)
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
	StopBuild(ctx context.Context, in *codebuild.StopBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error)
}

// Roles hands out credentials for target roles.
type Roles interface {
	Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error)
}

// Store is the part of the token store the starter uses.
type Store interface {
	BeginStart(ctx context.Context, want tokenstore.Intent) (tokenstore.Intent, error)
	RecordBuild(ctx context.Context, in tokenstore.Intent, buildARN, buildID string) (tokenstore.Intent, error)
	CloseAttempt(ctx context.Context, in tokenstore.Intent) error
	Create(ctx context.Context, rec tokenstore.Record) error
	RefreshToken(ctx context.Context, buildARN, executionARN string, mapIndex int, token string) (tokenstore.Record, error)
	ClaimAs(ctx context.Context, buildARN, owner string, lease time.Duration) (tokenstore.Record, error)
	Adopt(ctx context.Context, rec tokenstore.Record) (string, tokenstore.Record, error)
}

// Finisher completes a task whose terminal event arrived before its record.
type Finisher interface {
	Finish(ctx context.Context, claimed tokenstore.Record, b outcome.Build, by string) error
}

// Handler starts one target's build.
type Handler struct {
	Parser    target.Parser
	Allow     *target.AllowList
	Roles     Roles
	CodeBuild func(region string, creds aws.CredentialsProvider) CodeBuildAPI
	Store     Store
	Finisher  Finisher
	Log       *slog.Logger
	Metrics   *metrics.Recorder

	CorrelationPrefix   string
	DefaultPollInterval int
	// Lease is how long a claim on a record holds before another sender may take it over.
	Lease     time.Duration
	RecordTTL time.Duration
	Now       func() time.Time
}

// Handle validates the request, starts the build (idempotently) and records the token.
// Errors are the named failure types, returned unwrapped so Step Functions sees their names.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (contract.Descriptor, error) {
	var req contract.StarterRequest
	if err := contract.Decode(raw, &req, "starter request"); err != nil {
		return contract.Descriptor{}, err
	}
	if !contract.ValidExecutionARN(req.ExecutionARN) {
		return contract.Descriptor{}, &failure.InvalidTarget{Index: -1, Field: "executionArn", Rule: "must be a Step Functions execution ARN"}
	}
	if !contract.ValidMapIndex(req.MapIndex) {
		return contract.Descriptor{}, &failure.InvalidTarget{Index: -1, Field: "mapIndex", Rule: fmt.Sprintf("must be a whole number from 0 to %d", contract.MaxMapIndex)}
	}
	index := *req.MapIndex
	t, err := h.Parser.Parse(req.Target, index)
	if err != nil {
		return contract.Descriptor{}, err
	}
	log := h.Log.With(logging.KeyExecutionARN, req.ExecutionARN, logging.KeyMapIndex, index,
		logging.KeyAccount, t.Account, logging.KeyRegion, t.Region, logging.KeyProject, t.Project)
	tracing.Annotate(ctx, tracing.KeyExecutionARN, req.ExecutionARN)
	tracing.Annotate(ctx, tracing.KeyAccount, t.Account)
	tracing.Annotate(ctx, tracing.KeyProject, t.Project)
	tracing.Annotate(ctx, tracing.KeyRegion, t.Region)
	if limit := h.RecordTTL; t.TimeoutSeconds > 0 && time.Duration(t.TimeoutSeconds)*time.Second >= limit {
		// The record must outlive the task, or a late completion finds nothing.
		return contract.Descriptor{}, &failure.InvalidTarget{Index: index, Field: "timeoutSeconds",
			Rule: fmt.Sprintf("must be less than the token record lifetime of %d seconds", int(limit.Seconds()))}
	}
	if err := h.Allow.Check(t); err != nil {
		log.Warn("target not allowed", logging.KeyError, err.Error())
		return contract.Descriptor{}, err
	}

	creds, err := h.Roles.Credentials(ctx, t.RoleARN, assume.SessionName(req.ExecutionARN))
	if err != nil {
		log.Error("assume role", logging.KeyError, err.Error())
		return contract.Descriptor{}, err
	}
	buildID, buildARN, err := h.start(ctx, log, h.CodeBuild(t.Region, creds), t, req.ExecutionARN, index)
	if err != nil {
		return contract.Descriptor{}, err
	}
	log = log.With(logging.KeyBuildARN, buildARN)
	tracing.Annotate(ctx, tracing.KeyBuildARN, buildARN)

	now := h.Now()
	rec := tokenstore.Record{
		BuildARN: buildARN, BuildID: buildID, TaskToken: req.TaskToken,
		ExecutionARN: req.ExecutionARN, MapIndex: index,
		Account: t.Account, Region: t.Region, Project: t.Project, RoleARN: t.RoleARN,
		Completion: completionOf(req.TaskToken), EnvOverrides: t.EnvNames(),
		TraceID: tracing.TraceID(ctx), TraceParent: tracing.ParentID(ctx), CreatedAt: now, ExpiresAt: now.Add(h.RecordTTL),
	}
	if err := h.record(ctx, log, rec); err != nil {
		return contract.Descriptor{}, err
	}
	log.Info("build started", logging.KeyToken, logging.TokenHash(req.TaskToken),
		"completion", rec.Completion, "envOverrides", rec.EnvOverrides)

	poll := t.PollIntervalSeconds
	if poll == 0 {
		poll = h.DefaultPollInterval
	}
	return contract.Descriptor{
		BuildID: buildID, BuildARN: buildARN, Account: t.Account, Region: t.Region, Project: t.Project,
		RoleARN: t.RoleARN, ExecutionARN: req.ExecutionARN, MapIndex: index, Completion: rec.Completion,
		PollIntervalSeconds: poll, EnvOverrides: rec.EnvOverrides,
	}, nil
}

// record stores the token record. The record may already exist: written by an earlier
// attempt of this invocation (a retry, perhaps with a new token), or parked by the callback
// because the build's terminal event overtook this write. Nothing is lost in either case:
// a new token replaces the old one, and a terminal outcome already known (parked, or kept
// on the record when a send to the old token was refused) is sent with the new token.
func (h *Handler) record(ctx context.Context, log *slog.Logger, rec tokenstore.Record) error {
	err := h.Store.Create(ctx, rec)
	var exists *tokenstore.ExistsError
	if err == nil || !errors.As(err, &exists) {
		if err != nil {
			return &failure.TransientError{Op: "store token record for " + rec.BuildARN, Err: err}
		}
		return nil
	}
	old := exists.Existing
	if old.State == tokenstore.Parked {
		return h.adopt(ctx, log, rec)
	}
	if old.ExecutionARN != rec.ExecutionARN || old.MapIndex != rec.MapIndex {
		return &failure.StartBuildFailed{Project: rec.Project, Region: rec.Region,
			Err: fmt.Errorf("build %s is already recorded for execution %s index %d", rec.BuildARN, old.ExecutionARN, old.MapIndex)}
	}
	if old.State != tokenstore.Waiting && old.State != tokenstore.Claimed {
		log.Info("token record already closed", "state", string(old.State), "completedBy", old.CompletedBy)
		return nil
	}
	cur := old
	if old.TaskToken != rec.TaskToken {
		cur, err = h.Store.RefreshToken(ctx, rec.BuildARN, rec.ExecutionARN, rec.MapIndex, rec.TaskToken)
		var conflict *tokenstore.ConflictError
		switch {
		case errors.As(err, &conflict):
			// Completed or stopped meanwhile: nothing waits for a token any more.
			log.Info("token not refreshed", "reason", err.Error())
			return nil
		case err != nil:
			return &failure.TransientError{Op: "refresh task token for " + rec.BuildARN, Err: err}
		}
		log.Info("task token refreshed for a retried invocation", logging.KeyToken, logging.TokenHash(rec.TaskToken), "state", string(cur.State))
	}
	if cur.State != tokenstore.Waiting || cur.Outcome == "" || rec.TaskToken == "" {
		// A claimant resends with the new token when the old one is refused; in poll mode
		// the poller reports the build.
		return nil
	}
	return h.sendKnown(ctx, log, cur)
}

// sendKnown completes the task from a terminal outcome already on the record: the build
// ended, and its send to an earlier attempt's token was refused.
func (h *Handler) sendKnown(ctx context.Context, log *slog.Logger, rec tokenstore.Record) error {
	var b outcome.Build
	if err := json.Unmarshal([]byte(rec.Outcome), &b); err != nil {
		log.Error("outcome on the record unreadable", logging.KeyError, err.Error())
		return nil // the heartbeat timeout and the poller take over
	}
	owner := tokenstore.NewOwnerID()
	claimed, err := h.Store.ClaimAs(ctx, rec.BuildARN, owner, h.Lease)
	if err != nil {
		var (
			conflict *tokenstore.ConflictError
			notFound *tokenstore.NotFoundError
		)
		if errors.As(err, &conflict) || errors.As(err, &notFound) {
			log.Info("known outcome being sent by someone else", "reason", err.Error())
			return nil
		}
		return &failure.TransientError{Op: "claim token record " + rec.BuildARN, Err: err}
	}
	log.Info("build already ended; completing with the new token", "status", b.Status, "claimOwner", owner)
	return h.Finisher.Finish(ctx, claimed, b, outcome.ByEvent)
}

func (h *Handler) adopt(ctx context.Context, log *slog.Logger, rec tokenstore.Record) error {
	// The owner lets an adoption whose answer was lost recognise itself when the SDK's
	// retry fails its condition; otherwise that retry reads as someone else's adoption.
	rec.ClaimOwner = tokenstore.NewOwnerID()
	log = log.With("claimOwner", rec.ClaimOwner)
	parked, claimed, err := h.Store.Adopt(ctx, rec)
	if err != nil {
		var conflict *tokenstore.ConflictError
		if errors.As(err, &conflict) {
			log.Info("parked record adopted by an earlier attempt", "reason", err.Error())
			return nil
		}
		return &failure.TransientError{Op: "adopt parked record " + rec.BuildARN, Err: err}
	}
	var b outcome.Build
	if err := json.Unmarshal([]byte(parked), &b); err != nil {
		// Unreadable parked outcome: leave the task to heartbeat timeout and the poller.
		log.Error("parked outcome unreadable", logging.KeyError, err.Error())
		return nil
	}
	log.Info("terminal event arrived before the record; completing now", "status", b.Status)
	if rec.TaskToken == "" {
		return nil // poll mode: the poller reports the build
	}
	return h.Finisher.Finish(ctx, claimed, b, outcome.ByEvent)
}

func completionOf(token string) string {
	if token == "" {
		return target.CompletionPoll
	}
	return target.CompletionEvent
}
