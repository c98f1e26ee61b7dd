package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"

	"github.com/crossbuild/crossbuild/internal/assume"
	"github.com/crossbuild/crossbuild/internal/awserr"
	"github.com/crossbuild/crossbuild/internal/contract"
	"github.com/crossbuild/crossbuild/internal/failure"
	"github.com/crossbuild/crossbuild/internal/logging"
	"github.com/crossbuild/crossbuild/internal/outcome"
	"github.com/crossbuild/crossbuild/internal/target"
	"github.com/crossbuild/crossbuild/internal/tokenstore"
	"github.com/crossbuild/crossbuild/internal/tracing"
)

// CodeBuildAPI is the CodeBuild operation the starter uses.
type CodeBuildAPI interface {
	StartBuild(ctx context.Context, in *codebuild.StartBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error)
}

// Roles hands out credentials for target roles.
type Roles interface {
	Credentials(ctx context.Context, roleARN, sessionName string) (aws.CredentialsProvider, error)
}

// Store is the part of the token store the starter uses.
type Store interface {
	Create(ctx context.Context, rec tokenstore.Record) error
	RefreshToken(ctx context.Context, buildARN, executionARN string, mapIndex int, token string) error
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

	CorrelationPrefix   string
	DefaultPollInterval int
	RecordTTL           time.Duration
	Now                 func() time.Time
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
	out, err := h.CodeBuild(t.Region, creds).StartBuild(ctx, h.startBuildInput(t, req.ExecutionARN, index))
	if err != nil {
		err = classifyStartBuild(t, err)
		log.Error("start build", logging.KeyError, err.Error(), "errorType", failure.Name(err))
		return contract.Descriptor{}, err
	}
	if out.Build == nil || aws.ToString(out.Build.Id) == "" {
		return contract.Descriptor{}, &failure.TransientError{Op: "start build " + t.Project, Err: errors.New("response carries no build id")}
	}
	buildID := aws.ToString(out.Build.Id)
	buildARN := aws.ToString(out.Build.Arn)
	if buildARN == "" {
		buildARN = outcome.BuildARN(t.Partition, t.Region, t.Account, buildID)
	}
	log = log.With(logging.KeyBuildARN, buildARN)
	tracing.Annotate(ctx, tracing.KeyBuildARN, buildARN)

	now := h.Now()
	rec := tokenstore.Record{
		BuildARN: buildARN, BuildID: buildID, TaskToken: req.TaskToken,
		ExecutionARN: req.ExecutionARN, MapIndex: index,
		Account: t.Account, Region: t.Region, Project: t.Project, RoleARN: t.RoleARN,
		Completion: completionOf(req.TaskToken), EnvOverrides: t.EnvNames(),
		TraceID: tracing.TraceID(ctx), CreatedAt: now, ExpiresAt: now.Add(h.RecordTTL),
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
// because the build's terminal event overtook this write. Nothing is lost in either case.
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
	if rec.TaskToken == "" || old.State != tokenstore.Waiting || old.TaskToken == rec.TaskToken {
		log.Info("token record already present", "state", string(old.State))
		return nil
	}
	if err := h.Store.RefreshToken(ctx, rec.BuildARN, rec.ExecutionARN, rec.MapIndex, rec.TaskToken); err != nil {
		var conflict *tokenstore.ConflictError
		if errors.As(err, &conflict) {
			// Completed or claimed meanwhile: the build is being reported already.
			log.Info("token not refreshed", "reason", err.Error())
			return nil
		}
		return &failure.TransientError{Op: "refresh task token for " + rec.BuildARN, Err: err}
	}
	log.Info("task token refreshed for a retried invocation", logging.KeyToken, logging.TokenHash(rec.TaskToken))
	return nil
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

func (h *Handler) startBuildInput(t target.Target, executionARN string, index int) *codebuild.StartBuildInput {
	env := make([]cbtypes.EnvironmentVariable, 0, len(t.Env)+2)
	for _, e := range t.Env {
		env = append(env, cbtypes.EnvironmentVariable{Name: aws.String(e.Name), Value: aws.String(e.Value), Type: cbtypes.EnvironmentVariableType(e.Type)})
	}
	env = append(env,
		cbtypes.EnvironmentVariable{Name: aws.String(h.CorrelationPrefix + "EXECUTION_ARN"), Value: aws.String(executionARN), Type: cbtypes.EnvironmentVariableTypePlaintext},
		cbtypes.EnvironmentVariable{Name: aws.String(h.CorrelationPrefix + "MAP_INDEX"), Value: aws.String(strconv.Itoa(index)), Type: cbtypes.EnvironmentVariableTypePlaintext},
	)
	in := &codebuild.StartBuildInput{
		ProjectName:                  aws.String(t.Project),
		EnvironmentVariablesOverride: env,
		IdempotencyToken:             aws.String(IdempotencyToken(executionARN, index)),
	}
	if t.SourceVersion != "" {
		in.SourceVersion = aws.String(t.SourceVersion)
	}
	if t.TimeoutInMinutes > 0 {
		in.TimeoutInMinutesOverride = aws.Int32(int32(t.TimeoutInMinutes))
	}
	return in
}

// IdempotencyToken is the same for every attempt of one Map item of one execution, so a
// retried invocation gets the build the first attempt started (CodeBuild honours the token
// for five minutes).
func IdempotencyToken(executionARN string, index int) string {
	sum := sha256.Sum256([]byte(executionARN + "#" + strconv.Itoa(index)))
	return hex.EncodeToString(sum[:])
}

func completionOf(token string) string {
	if token == "" {
		return target.CompletionPoll
	}
	return target.CompletionEvent
}

// classifyStartBuild maps CodeBuild's errors to what the state machine should do next.
func classifyStartBuild(t target.Target, err error) error {
	var (
		notFound *cbtypes.ResourceNotFoundException
		invalid  *cbtypes.InvalidInputException
		limit    *cbtypes.AccountLimitExceededException
	)
	switch {
	case errors.As(err, &limit), awserr.IsThrottle(err):
		return &failure.BuildQuotaExceeded{Project: t.Project, Region: t.Region, Err: err}
	case errors.As(err, &notFound), errors.As(err, &invalid):
		return &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: err}
	case awserr.IsRetryable(err):
		return &failure.TransientError{Op: "start build " + t.Project, Err: err}
	case awserr.Code(err) != "":
		// Any other refusal (AccessDeniedException, ...) will not change on retry.
		return &failure.StartBuildFailed{Project: t.Project, Region: t.Region, Err: err}
	}
	return &failure.TransientError{Op: "start build " + t.Project, Err: err}
}
